import type { TimelineRun } from './timeline-types.js'

/**
 * What the renderer needs of a timeline. Loose on purpose: the CLI renders the JSON a server
 * answered, which may come from an older server without `runs` or `nextSteps`.
 */
export interface TimelineDocument {
  correlationId: string
  events: readonly {
    at: string
    source: string
    type: string
    message: string
    actor?: unknown
    runId?: unknown
  }[]
  runs?: readonly TimelineRun[] | undefined
  nextSteps?: readonly string[] | undefined
}

/** Markdown to paste into an incident ticket: header, events table, who did what, next steps. */
export function timelineMarkdown(timeline: TimelineDocument): string {
  const runs = timeline.runs ?? []
  const own = runs.filter((r) => !r.linked)
  const linked = runs.filter((r) => r.linked)
  const lines = [
    `# Timeline ${timeline.correlationId}`,
    '',
    '| | |',
    '| --- | --- |',
    `| correlation id | \`${timeline.correlationId}\` |`,
    `| key | ${cell(unique(runs.map((r) => r.key)).join(', ') || '—')} |`,
    `| run | ${cell(own.map(runText).join('; ') || '—')} |`,
    ...(linked.length > 0 ? [`| linked runs | ${cell(linked.map(runText).join('; '))} |`] : []),
    `| outcome | ${cell(own.map(outcomeText).join('; ') || '—')} |`,
    `| duration | ${cell(own.map(durationText).join('; ') || '—')} |`,
    `| events | ${eventsText(timeline.events)} |`,
    '',
    '## Events',
    '',
    '| time (UTC) | source | event | actor | message |',
    '| --- | --- | --- | --- | --- |',
    ...timeline.events.map(
      (e) =>
        `| ${e.at} | ${cell(e.source)} | ${cell(e.type)} | ${cell(typeof e.actor === 'string' ? e.actor : '')} | ${cell(e.message)} |`,
    ),
    '',
    '## Who did what',
    '',
    ...whoDidWhat(timeline.events),
  ]
  if (timeline.nextSteps !== undefined) {
    lines.push('', '## What to do next', '', ...timeline.nextSteps.map((step) => `- ${step}`))
  }
  return `${lines.join('\n')}\n`
}

/** Each actor with the distinct things they did, in the order they first did them. */
function whoDidWhat(events: TimelineDocument['events']): string[] {
  const byActor = new Map<string, Map<string, number>>()
  for (const e of events) {
    if (typeof e.actor !== 'string' || e.actor === '') continue
    const did = byActor.get(e.actor) ?? new Map<string, number>()
    did.set(e.type, (did.get(e.type) ?? 0) + 1)
    byActor.set(e.actor, did)
  }
  if (byActor.size === 0) return ['- nobody is named in these records']
  return [...byActor].map(([actor, did]) => {
    const what = [...did].map(([type, n]) => (n > 1 ? `${type} ×${n}` : type)).join(', ')
    return `- **${escape(actor)}**: ${escape(what)}`
  })
}

function runText(run: TimelineRun): string {
  return `${run.id} (${run.kind}, ${run.state}, by ${run.requestedBy})`
}

function outcomeText(run: TimelineRun): string {
  if (run.failure === null) return run.state
  return `${run.state} in ${run.failure.phase ?? '?'} (${run.failure.class ?? '?'}): ${run.failure.message ?? ''}`
}

function durationText(run: TimelineRun): string {
  if (run.finishedAt === null) return `not finished (created ${run.createdAt})`
  const seconds = (Date.parse(run.finishedAt) - Date.parse(run.createdAt)) / 1000
  return `${seconds.toFixed(1)} s (${run.createdAt} → ${run.finishedAt})`
}

function eventsText(events: TimelineDocument['events']): string {
  const first = events[0]
  const last = events.at(-1)
  if (first === undefined || last === undefined) return '0'
  return `${events.length}, ${first.at} → ${last.at}`
}

/** Pipes would end a cell and newlines the row; backslashes first so the escapes stay escapes. */
function cell(text: string): string {
  return escape(text).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')
}

function escape(text: string): string {
  return text.replace(/\\/g, '\\\\')
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)]
}
