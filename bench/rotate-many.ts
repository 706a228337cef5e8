import { cpus, platform, arch, totalmem } from 'node:os'
import { parseArgs } from 'node:util'
import type { DialectName } from '../src/store/dialect.js'
import { postgresAnswers } from './bench-store.js'
import { installCommitCounter } from './commit-counter.js'
import { benchmarkJwksFlood, type JwksFloodResult } from './jwks-flood.js'
import { measureLatency, type LatencyResult } from './latency.js'
import { benchmarkDialect, type DialectResult } from './run-dialect.js'

/**
 * `npm run bench`: rotates many keys on SQLite and on PostgreSQL and prints one JSON document on
 * stdout (progress goes to stderr). See docs/benchmarks.md for what is measured and how.
 */
const USAGE = `usage: node dist/bench/rotate-many.js [--keys N] [--pg-keys N] [--dialects sqlite,postgres] [--concurrency C] [--jwks-requests N]
  env KEYROTOR_BENCH_DATABASE_URL: PostgreSQL to use (default postgres://postgres@127.0.0.1:5432/test)`

// on SQLite 4, 16 and 64 runs in flight give the same rate (one connection serializes the
// statements); PostgreSQL's pool of 10 needs enough runs in flight to keep its connections busy
const DEFAULT_CONCURRENCY = 64

interface Args {
  keys: number
  pgKeys: number
  dialects: DialectName[]
  concurrency: number
  jwksRequests: number
  /** Rotations of the unloaded-latency mode (concurrency 1), 0 for none. */
  latency: number
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      keys: { type: 'string' },
      'pg-keys': { type: 'string' },
      dialects: { type: 'string' },
      concurrency: { type: 'string' },
      'jwks-requests': { type: 'string' },
      latency: { type: 'string' },
      help: { type: 'boolean' },
    },
  })
  if (values.help === true) {
    process.stderr.write(`${USAGE}\n`)
    process.exit(0)
  }
  const count = (name: string, text: string | undefined, fallback: number) => {
    if (text === undefined) return fallback
    const n = Number(text)
    if (!Number.isInteger(n) || n < (name === 'latency' ? 0 : 1))
      throw new Error(
        `--${name} must be a ${name === 'latency' ? 'whole number' : 'positive integer'}, not ${text}`,
      )
    return n
  }
  const dialects = (values.dialects ?? 'sqlite,postgres').split(',').map((d) => d.trim())
  for (const d of dialects) {
    if (d !== 'sqlite' && d !== 'postgres') throw new Error(`unknown dialect ${d}: sqlite or postgres`)
  }
  const keys = count('keys', values.keys, 10_000)
  return {
    keys,
    pgKeys: count('pg-keys', values['pg-keys'], keys),
    dialects: dialects as DialectName[],
    concurrency: count('concurrency', values.concurrency, DEFAULT_CONCURRENCY),
    jwksRequests: count('jwks-requests', values['jwks-requests'], 20_000),
    latency: count('latency', values.latency, 50),
  }
}

async function main(): Promise<number> {
  let args: Args
  try {
    args = parse(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`)
    return 2
  }
  const databaseUrl = process.env.KEYROTOR_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`)
  const counter = installCommitCounter()
  const results: DialectResult[] = []
  const jwksFlood: JwksFloodResult[] = []
  const latency: LatencyResult[] = []
  const skipped: string[] = []
  for (const dialect of args.dialects) {
    if (dialect === 'postgres' && !(await postgresAnswers(databaseUrl))) {
      progress(`NOTICE: PostgreSQL does not answer at ${databaseUrl.replace(/:[^:@/]*@/, ':***@')}; skipped`)
      skipped.push('postgres')
      continue
    }
    const keys = dialect === 'postgres' ? args.pgKeys : args.keys
    const result = await benchmarkDialect({
      dialect,
      keys,
      concurrency: args.concurrency,
      databaseUrl,
      counter,
      progress,
    })
    progress(`${dialect}: ${keys} rotations in ${result.seconds} s (${result.rotationsPerSecond}/s)`)
    results.push(result)
    const flood = await benchmarkJwksFlood({
      dialect,
      requests: args.jwksRequests,
      clients: 32,
      databaseUrl,
      counter,
      progress,
    })
    progress(
      `${dialect}: JWKS flood ${flood.requestsPerSecond} req/s, p99 ${flood.latencyMs.p99} ms, store statements ${flood.floodStatementsPerSecond}/s (idle ${flood.idleStatementsPerSecond}/s)`,
    )
    jwksFlood.push(flood)
    if (args.latency > 0) {
      const unloaded = await measureLatency({ dialect, rotations: args.latency, databaseUrl, progress })
      progress(
        `${dialect}: unloaded latency min ${unloaded.ms.min} ms, median ${unloaded.ms.p50} ms, p99 ${unloaded.ms.p99} ms`,
      )
      latency.push(unloaded)
    }
  }
  counter.uninstall()
  const cpu = cpus()
  const report = {
    machine: {
      cpus: cpu.length,
      cpuModel: cpu[0]?.model.trim() ?? 'unknown',
      memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      node: process.version,
      platform: `${platform()} ${arch()}`,
    },
    date: new Date().toISOString(),
    results,
    jwksFlood,
    latency,
    ...(skipped.length > 0 ? { skipped } : {}),
  }
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  const failed = results.filter((r) => !r.allSucceeded)
  for (const r of failed) {
    progress(`${r.dialect}: FAILED — ${r.failures.length} problem(s), first ones:`)
    for (const f of r.failures) progress(`  ${f}`)
  }
  return failed.length === 0 ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    process.exit(1)
  },
)
