import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { phasesOf } from '../src/domain/phases.js'
import { postgresAnswers } from './bench-store.js'
import { installCommitCounter } from './commit-counter.js'
import { benchmarkGraphileChains, graphileChainLatency, PEER } from './graphile-chains.js'
import { measureLatency } from './latency.js'
import { benchmarkDialect } from './run-dialect.js'

/**
 * `npm run bench:peer`: keyrotor's PostgreSQL rotations beside graphile-worker chains on the same
 * PostgreSQL in the same process and run, as durable steps per second and their ratio, then the
 * latency of one rotation and of one chain with nothing else running. See docs/benchmarks.md.
 */
const USAGE = `usage: node dist/bench/peer.js [--keys N] [--concurrency C] [--chains N] [--steps S] [--peer-concurrency C] [--latency N]
  env KEYROTOR_BENCH_DATABASE_URL: PostgreSQL to use (default postgres://postgres@127.0.0.1:5432/test)`

// a rotation is six journaled phases, each committed before the next acts
const STEPS_PER_ROTATION = phasesOf('rotate').length

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      keys: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '64' },
      chains: { type: 'string', default: '2000' },
      steps: { type: 'string', default: '7' },
      'peer-concurrency': { type: 'string', default: '24' },
      latency: { type: 'string', default: '50' },
      help: { type: 'boolean' },
    },
  })
  if (values.help === true) {
    process.stderr.write(`${USAGE}\n`)
    return 0
  }
  const numbers: Record<string, number> = {}
  for (const name of ['keys', 'concurrency', 'chains', 'steps', 'peer-concurrency', 'latency'] as const) {
    const n = Number(values[name])
    if (!Number.isInteger(n) || n < 1) {
      process.stderr.write(`--${name} must be a positive integer, not ${values[name]}\n${USAGE}\n`)
      return 2
    }
    numbers[name] = n
  }
  const at = (name: string) => numbers[name] as number
  const databaseUrl = process.env.KEYROTOR_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  const progress = (message: string) => process.stderr.write(`[bench:peer] ${message}\n`)
  if (!(await postgresAnswers(databaseUrl))) {
    progress(`PostgreSQL does not answer at ${databaseUrl.replace(/:[^:@/]*@/, ':***@')}`)
    return 1
  }
  const loadBefore = loadavg()[0] ?? 0

  const counter = installCommitCounter()
  const keyrotor = await benchmarkDialect({
    dialect: 'postgres',
    keys: at('keys'),
    concurrency: at('concurrency'),
    databaseUrl,
    counter,
    progress,
  })
  counter.uninstall()
  const keyrotorSteps = (keyrotor.keys * STEPS_PER_ROTATION) / keyrotor.seconds
  progress(
    `keyrotor: ${keyrotor.keys} rotations in ${keyrotor.seconds} s = ${Math.round(keyrotorSteps)} steps/s`,
  )

  progress(`${PEER}: ${at('chains')} chains × ${at('steps')} steps, concurrency ${at('peer-concurrency')}`)
  const peer = await benchmarkGraphileChains({
    databaseUrl,
    chains: at('chains'),
    stepsPerChain: at('steps'),
    concurrency: at('peer-concurrency'),
  })
  progress(`${PEER}: ${peer.stepsPerSecond} steps/s`)

  const keyrotorLatency = await measureLatency({
    dialect: 'postgres',
    rotations: at('latency'),
    databaseUrl,
    progress,
  })
  const peerLatency = await graphileChainLatency({
    databaseUrl,
    chains: at('latency'),
    stepsPerChain: at('steps'),
  })

  const ratio = Math.round((keyrotorSteps / peer.stepsPerSecond) * 100) / 100
  const report = {
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model.trim() ?? 'unknown', node: process.version },
    date: new Date().toISOString(),
    loadAverage: { before: round2(loadBefore), after: round2(loadavg()[0] ?? 0) },
    keyrotor: {
      keys: keyrotor.keys,
      concurrency: keyrotor.concurrency,
      stepsPerRotation: STEPS_PER_ROTATION,
      seconds: keyrotor.seconds,
      rotationsPerSecond: keyrotor.rotationsPerSecond,
      durableStepsPerSecond: Math.round(keyrotorSteps),
      commitsPerRotation: keyrotor.commitsPerRotation,
      allSucceeded: keyrotor.allSucceeded,
    },
    peer,
    ratio,
    latency: { keyrotor: keyrotorLatency, peer: peerLatency },
  }
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  progress(
    `durable steps/s: keyrotor ${Math.round(keyrotorSteps)}, ${PEER} ${peer.stepsPerSecond}, ratio ${ratio}×; ` +
      `unloaded: rotation median ${keyrotorLatency.ms.p50} ms, chain median ${peerLatency.ms.p50} ms`,
  )
  for (const f of keyrotor.failures) progress(`  ${f}`)
  return keyrotor.allSucceeded ? 0 : 1
}

function round2(value: number): number {
  return Math.round(value * 100) / 100
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `bench:peer failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    process.exit(1)
  },
)
