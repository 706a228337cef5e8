/** A V8 .cpuprofile (what `node --cpu-prof` writes), the parts the summary reads. */
export interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}

export interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}

export interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface FrameTime {
  frame: string
  selfMs: number
  inclusiveMs: number
}

/**
 * Self time (a frame's own code) and inclusive time (its own plus everything it called) per frame.
 * A frame is function + file + line, so two functions of one name stay apart; a recursive frame
 * counts once per sample.
 */
export function summarise(profile: CpuProfile): { totalMs: number; frames: FrameTime[] } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parentOf = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id)

  // time of each sample: the delta that follows it (the V8 profile's deltas precede each sample)
  const sampleMs = new Map<number, number>()
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000
    sampleMs.set(id, (sampleMs.get(id) ?? 0) + ms)
  })

  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let totalMs = 0
  for (const [id, ms] of sampleMs) {
    totalMs += ms
    const node = byId.get(id)
    if (node === undefined) continue
    self.set(frameName(node.callFrame), (self.get(frameName(node.callFrame)) ?? 0) + ms)
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const frame = byId.get(at)?.callFrame
      if (frame === undefined) break
      const name = frameName(frame)
      if (seen.has(name)) continue
      seen.add(name)
      inclusive.set(name, (inclusive.get(name) ?? 0) + ms)
    }
  }
  const frames = [...inclusive.keys()].map((frame) => ({
    frame,
    selfMs: round(self.get(frame) ?? 0),
    inclusiveMs: round(inclusive.get(frame) ?? 0),
  }))
  return { totalMs: round(totalMs), frames }
}

function frameName(frame: CallFrame): string {
  const where = frame.url === '' ? '' : ` ${shortUrl(frame.url)}:${frame.lineNumber + 1}`
  return `${frame.functionName === '' ? '(anonymous)' : frame.functionName}${where}`
}

/** node_modules/pkg/… and dist/… instead of the absolute file URL. */
function shortUrl(url: string): string {
  const modules = url.lastIndexOf('node_modules/')
  if (modules >= 0) return url.slice(modules + 'node_modules/'.length)
  const dist = url.indexOf('/dist/')
  return dist >= 0 ? url.slice(dist + 1) : url.replace(/^file:\/\//, '')
}

const round = (ms: number) => Math.round(ms * 10) / 10
