import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { runInit, startKeyrotor } from '../src/main.js'
import { cpuProfArgs } from './profile-args.js'

/**
 * `npm run bench:cli`: how long the CLI takes to start, hyperfine-style: each command runs
 * `--runs` times, the commands interleaved round by round so that a burst of load from elsewhere
 * on a shared machine hits them alike; min/median/max of the wall time, and the same for a bare
 * `node -e 0` in the same rounds, the floor no CLI can go below. `keys list` talks to a real
 * server (started in this process on a fresh data dir with three keys).
 */
const { values } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, 'cpu-prof': { type: 'boolean', default: false } },
})
const runs = Number(values.runs)
const CLI = resolve(import.meta.dirname, '../src/cli/main.js')
// GNU time: the child's CPU time (Node has no rusage of a child)
const TIME = '/usr/bin/time'

/** min/median/max of one measure over the runs, and its median over `node -e 0`'s. */
export interface Spread {
  minMs: number
  medianMs: number
  maxMs: number
  /** median − the median of `node -e 0`: what the command's own code costs. */
  overNodeMs: number
}

export interface StartFigure {
  command: string
  wall: Spread
  cpu: Spread
}

const YAML = `keys:
${['a', 'b', 'c']
  .map((id) => `  - { id: cli-${id}, provider: local, algorithm: aes-256-gcm, owner: bench, dependents: [] }`)
  .join('\n')}
`

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyrotor-cli-bench-'))
  const configPath = join(dataDir, 'keyrotor.yaml')
  writeFileSync(configPath, YAML)
  const { adminToken } = await runInit({ dataDir })
  const server = await startKeyrotor({ dataDir, configPath, port: 0, logLevel: 'silent' })
  try {
    const env = { ...process.env, KEYROTOR_URL: server.url, KEYROTOR_TOKEN: adminToken }
    const commands: { name: string; args: string[] }[] = [
      { name: 'node -e 0', args: ['-e', '0'] },
      {
        name: 'keyrotor --version',
        args: [...cpuProfArgs(values['cpu-prof'], 'cli-version'), CLI, '--version'],
      },
      {
        name: 'keyrotor keys list',
        args: [...cpuProfArgs(values['cpu-prof'], 'cli-keys-list'), CLI, 'keys', 'list'],
      },
      { name: 'keyrotor --help', args: [CLI, '--help'] },
    ]
    const wall = new Map(commands.map((c) => [c.name, [] as number[]]))
    const cpu = new Map(commands.map((c) => [c.name, [] as number[]]))
    for (let round = 0; round < runs + 1; round++) {
      for (const command of commands) {
        // asynchronous: the server that `keys list` asks lives in this process and must answer
        const time = await timeChild(command.args, env)
        if (round === 0) continue // round 0 warms the file cache
        wall.get(command.name)?.push(time.wallMs)
        cpu.get(command.name)?.push(time.cpuMs)
      }
    }
    const figures: StartFigure[] = commands.map(({ name }) => ({
      command: name,
      wall: spread(wall.get(name) ?? [], wall.get('node -e 0') ?? []),
      cpu: spread(cpu.get(name) ?? [], cpu.get('node -e 0') ?? []),
    }))
    process.stdout.write(`${JSON.stringify({ runs, figures }, null, 2)}\n`)
    const show = (s: Spread) =>
      `min ${s.minMs.toFixed(0).padStart(5)}  median ${s.medianMs.toFixed(0).padStart(5)}  max ${s.maxMs.toFixed(0).padStart(5)}  (+${s.overNodeMs.toFixed(0)} over node -e 0)`
    for (const f of figures) {
      process.stderr.write(`${f.command.padEnd(20)} wall ms ${show(f.wall)}  | CPU ms ${show(f.cpu)}\n`)
    }
  } finally {
    await server.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/**
 * One child run to its exit: wall time, and CPU time (user + system) as GNU time reports it. On a
 * machine shared with other work the wall time mostly measures the queue for a core; the CPU time
 * is what the command itself costs. A failed run is an error, not a figure.
 */
async function timeChild(args: string[], env: NodeJS.ProcessEnv): Promise<{ wallMs: number; cpuMs: number }> {
  const started = performance.now()
  const child = spawn(TIME, ['-f', 'CPU %U %S', process.execPath, ...args], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const code = await new Promise<number | null>((done) => child.once('exit', done))
  const wallMs = performance.now() - started
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited with ${code}: ${stderr}`)
  const cpu = /CPU (\d+\.\d+) (\d+\.\d+)\s*$/.exec(stderr)
  if (cpu === null) throw new Error(`no CPU time in ${TIME}'s output: ${stderr}`)
  return { wallMs, cpuMs: (Number(cpu[1]) + Number(cpu[2])) * 1000 }
}

function spread(values: readonly number[], floor: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b)
  return {
    minMs: round1(sorted[0] ?? 0),
    medianMs: round1(median(sorted)),
    maxMs: round1(sorted.at(-1) ?? 0),
    overNodeMs: round1(median(sorted) - median(floor)),
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length === 0
    ? 0
    : sorted.length % 2 === 1
      ? (sorted[mid] ?? 0)
      : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

const round1 = (ms: number) => Math.round(ms * 10) / 10

await main()
