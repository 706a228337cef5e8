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

export interface StartFigure {
  command: string
  minMs: number
  medianMs: number
  maxMs: number
  /** median − the median of `node -e 0`: the time the command's own code costs. */
  overNodeMs: number
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
    const times = new Map(commands.map((c) => [c.name, [] as number[]]))
    for (let round = 0; round < runs + 1; round++) {
      for (const command of commands) {
        // asynchronous: the server that `keys list` asks lives in this process and must answer
        const ms = await timeChild(command.args, env)
        if (round > 0) times.get(command.name)?.push(ms) // round 0 warms the file cache
      }
    }
    const baseline = median(times.get('node -e 0') ?? [])
    const figures: StartFigure[] = commands.map(({ name }) => {
      const list = [...(times.get(name) ?? [])].sort((a, b) => a - b)
      return {
        command: name,
        minMs: round1(list[0] ?? 0),
        medianMs: round1(median(list)),
        maxMs: round1(list.at(-1) ?? 0),
        overNodeMs: round1(median(list) - baseline),
      }
    })
    process.stdout.write(`${JSON.stringify({ runs, figures }, null, 2)}\n`)
    for (const f of figures) {
      process.stderr.write(
        `${f.command.padEnd(22)} min ${f.minMs.toFixed(1).padStart(7)} ms  median ${f.medianMs.toFixed(1).padStart(7)} ms  max ${f.maxMs.toFixed(1).padStart(7)} ms  (+${f.overNodeMs.toFixed(1)} ms over node -e 0)\n`,
      )
    }
  } finally {
    await server.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** Wall time of one child run to its exit; a failed run is an error, not a figure. */
async function timeChild(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now()
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const code = await new Promise<number | null>((done) => child.once('exit', done))
  const ms = performance.now() - started
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited with ${code}: ${stderr}`)
  return ms
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
