import { setTimeout as delay } from 'node:timers/promises'
import { phasesOf } from '../src/domain/phases.js'
import { runInit, startKeyrotor, type Keyrotor } from '../src/main.js'
import type { DialectName } from '../src/store/dialect.js'
import { countRunsByState } from '../src/store/runs-repository.js'
import { createBenchStore, isVerifyOnly, keyIdOf } from './bench-store.js'
import { COMMITS_METHOD, type CommitCounter, type CommitCounts } from './commit-counter.js'
import { createInProcessDependents } from './in-process-dependents.js'
import { percentiles, type Percentiles } from './percentiles.js'

export interface DialectResult {
  dialect: DialectName
  keys: number
  concurrency: number
  seconds: number
  rotationsPerSecond: number
  phaseMs: Record<string, Percentiles>
  commitsPerRotation: number
  commitsMethod: string
  commits: CommitCounts
  enrollSeconds: number
  allSucceeded: boolean
  failures: string[]
}

export interface DialectOptions {
  dialect: DialectName
  keys: number
  concurrency: number
  databaseUrl: string
  counter: CommitCounter
  progress: (message: string) => void
}

// how many rotation requests are in flight at once while the benchmark triggers them
const TRIGGER_PARALLELISM = 8
const MEASURED_PHASES = phasesOf('rotate')

/** Rotates `keys` keys once each on one dialect; the window runs from first trigger to last terminal run. */
export async function benchmarkDialect(options: DialectOptions): Promise<DialectResult> {
  const { dialect, keys, progress } = options
  const store = await createBenchStore(dialect, keys, options.databaseUrl)
  const durations = new Map<string, number[]>()
  let timing = false
  try {
    await runInit(store.options)
    progress(`${dialect}: enrolling ${keys} keys (setup, not measured)`)
    const enrollStart = performance.now()
    const keyrotor = await startKeyrotor({
      ...store.options,
      configPath: store.configPath,
      listen: false,
      logLevel: 'silent',
      dependentClient: createInProcessDependents({ verifyOnly: isVerifyOnly }),
      concurrency: options.concurrency,
      pollMs: 20,
      phaseTimer(phase, seconds) {
        if (!timing) return
        let list = durations.get(phase)
        if (list === undefined) durations.set(phase, (list = []))
        list.push(seconds * 1000)
      },
    })
    const enrollSeconds = (performance.now() - enrollStart) / 1000
    progress(`${dialect}: enrolled in ${enrollSeconds.toFixed(1)} s; rotating`)
    let seconds: number
    let commits: CommitCounts
    let failures: string[]
    try {
      timing = true
      options.counter.start()
      const started = performance.now()
      await triggerAll(keyrotor, keys)
      await waitUntilTerminal(keyrotor, keys, (done) => progress(`${dialect}: ${done}/${keys} runs done`))
      seconds = (performance.now() - started) / 1000
      commits = options.counter.stop()
      timing = false
      failures = await verify(keyrotor, keys)
    } finally {
      await keyrotor.close()
    }
    const durable = commits.transactions + commits.autocommitWrites
    return {
      dialect,
      keys,
      concurrency: options.concurrency,
      seconds: round(seconds, 2),
      rotationsPerSecond: round(keys / seconds, 1),
      phaseMs: Object.fromEntries(MEASURED_PHASES.map((p) => [p, percentiles(durations.get(p) ?? [])])),
      commitsPerRotation: round(durable / keys, 2),
      commitsMethod: COMMITS_METHOD,
      commits,
      enrollSeconds: round(enrollSeconds, 1),
      allSucceeded: failures.length === 0,
      failures: failures.slice(0, 20),
    }
  } finally {
    await store.drop()
  }
}

async function triggerAll(keyrotor: Keyrotor, keys: number): Promise<void> {
  let next = 0
  const requester = async () => {
    for (let i = next++; i < keys; i = next++) {
      await keyrotor.runs.request({ keyId: keyIdOf(i), kind: 'rotate', actor: 'bench', trigger: 'manual' })
    }
  }
  await Promise.all(Array.from({ length: TRIGGER_PARALLELISM }, requester))
}

async function waitUntilTerminal(keyrotor: Keyrotor, keys: number, report: (done: number) => void) {
  let lastReport = 0
  for (;;) {
    const byState = await countRunsByState(keyrotor.store.db)
    const live = (byState.queued ?? 0) + (byState.awaiting_approval ?? 0) + (byState.running ?? 0)
    const total = Object.values(byState).reduce((a, b) => a + b, 0)
    if (total >= keys && live === 0) return
    if (performance.now() - lastReport > 2000) {
      report(total - live)
      lastReport = performance.now()
    }
    await delay(200)
  }
}

/** Every run succeeded, and every key has exactly v2 active and v1 retiring. */
async function verify(keyrotor: Keyrotor, keys: number): Promise<string[]> {
  const { db } = keyrotor.store
  const failures: string[] = []
  const runs = await db
    .selectFrom('runs')
    .select(['key_id', 'state', 'failure_phase', 'failure_message'])
    .execute()
  if (runs.length !== keys) failures.push(`${runs.length} runs for ${keys} keys`)
  for (const r of runs) {
    if (r.state !== 'succeeded')
      failures.push(`${r.key_id}: ${r.state} in ${r.failure_phase ?? '?'}: ${r.failure_message ?? ''}`)
  }
  const versions = await db.selectFrom('key_versions').select(['key_id', 'version', 'state']).execute()
  const byKey = new Map<string, string[]>()
  for (const v of versions) byKey.set(v.key_id, [...(byKey.get(v.key_id) ?? []), `v${v.version}:${v.state}`])
  for (let i = 0; i < keys; i++) {
    const seen = (byKey.get(keyIdOf(i)) ?? []).sort().join(' ')
    if (seen !== 'v1:retiring v2:active') failures.push(`${keyIdOf(i)}: versions ${seen || 'none'}`)
  }
  return failures
}

function round(value: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
