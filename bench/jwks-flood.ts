import { runInit, startKeyrotor } from '../src/main.js'
import type { DialectName } from '../src/store/dialect.js'
import { createBenchStore } from './bench-store.js'
import type { CommitCounter } from './commit-counter.js'
import { percentiles, type Percentiles } from './percentiles.js'

export interface JwksFloodResult {
  dialect: DialectName
  requests: number
  clients: number
  seconds: number
  requestsPerSecond: number
  latencyMs: Percentiles
  /** Statements sent to the store during the flood (every kind, reads included). */
  storeStatements: number
  /** The same per second with no request at all (scheduler, workers, checkpoints): the baseline. */
  idleStatementsPerSecond: number
  floodStatementsPerSecond: number
  /** Answers by HTTP status; all 200 expected. */
  statuses: Record<string, number>
}

const KEY = 'flood-jwt'
const IDLE_MS = 5_000
// one signing key with a published JWKS; nobody depends on it, no run happens during the flood
const YAML = `keys:
  - id: ${KEY}
    provider: local
    algorithm: ec-p256
    owner: bench
    aliases: [alias/${KEY}]
    dependents: []
`

/**
 * The unknown-kid flood: verifiers that meet a token with a kid they do not know refetch the JWKS,
 * so a burst of such tokens (an attacker's, or a fleet after a promote) is a burst of GETs of one
 * key's JWKS over real HTTP. Measures their rate and latency, and how many store statements they
 * cost (the endpoint serves from memory: about one read per key per second, not one per request).
 */
export async function benchmarkJwksFlood(options: {
  dialect: DialectName
  requests: number
  clients: number
  databaseUrl: string
  counter: CommitCounter
  progress: (message: string) => void
}): Promise<JwksFloodResult> {
  const { dialect, requests, clients } = options
  const store = await createBenchStore(dialect, 1, options.databaseUrl, YAML)
  try {
    await runInit(store.options)
    const keyrotor = await startKeyrotor({
      ...store.options,
      configPath: store.configPath,
      port: 0,
      logLevel: 'silent',
    })
    try {
      const url = `${keyrotor.url}/v1/keys/${KEY}/jwks.json`
      await (await fetch(url)).text()
      options.progress(`${dialect}: JWKS flood, ${requests} requests from ${clients} clients`)
      options.counter.start()
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS))
      const idle = options.counter.stop().statements / (IDLE_MS / 1000)
      const latencies: number[] = []
      const statuses: Record<string, number> = {}
      let sent = 0
      options.counter.start()
      const started = performance.now()
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (sent < requests) {
            sent++
            const at = performance.now()
            const response = await fetch(url)
            await response.arrayBuffer()
            latencies.push(performance.now() - at)
            statuses[response.status] = (statuses[response.status] ?? 0) + 1
          }
        }),
      )
      const seconds = (performance.now() - started) / 1000
      const counts = options.counter.stop()
      return {
        dialect,
        requests,
        clients,
        seconds: Math.round(seconds * 100) / 100,
        requestsPerSecond: Math.round(requests / seconds),
        latencyMs: percentiles(latencies),
        storeStatements: counts.statements,
        idleStatementsPerSecond: Math.round(idle * 10) / 10,
        floodStatementsPerSecond: Math.round((counts.statements / seconds) * 10) / 10,
        statuses,
      }
    } finally {
      await keyrotor.close()
    }
  } finally {
    await store.drop()
  }
}
