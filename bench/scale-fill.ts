import { randomUUID } from 'node:crypto'
import { appendFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { CHECKPOINT_FILE } from '../src/audit/checkpoints.js'
import { deriveAuditKey, hashRecord, signCheckpoint, type ChainedRow } from '../src/audit/chain.js'
import { runInit } from '../src/main.js'
import { loadMasterKey } from '../src/providers/local/master-key.js'
import { SQLITE_FILE } from '../src/store/database.js'
import { enrolKeys, scaleKeyId, type ChainCursor } from './scale-keys.js'

/** What a filled store holds; the counts are flags of bench/scale.ts. */
export interface FillCounts {
  keys: number
  /** Audit records in total (the keys' enrolment records included). */
  audit: number
  /** Finished rotation runs, each with its events, spread over the keys. */
  runs: number
  alerts: number
}

export interface FilledStore {
  dataDir: string
  adminToken: string
  configPath: string
  /** A key, a run's correlation id: what the page and timeline requests ask for. */
  sampleKey: string
  sampleCorrelationId: string
  seconds: { keys: number; history: number; audit: number }
}

const EVENTS_PER_RUN = 6
const PHASES = ['preflight', 'generate', 'distribute', 'verify', 'promote', 'finalize'] as const
const AUDIT_ACTIONS = ['rotate', 'run.succeeded', 'material.fetched', 'alert.acked', 'token.used'] as const
const BATCH = 50_000

/**
 * Fills a fresh SQLite data dir the way a long-lived deployment would look: `keyrotor init`, then
 * the keys enrolled as the server's first start enrols them (bench/scale-keys.ts: real material,
 * real config hash, the real audit chain) and the history that a year of rotations leaves (runs,
 * their events, alerts, millions of audit records), written straight into the tables in large
 * transactions since running millions of rotations would take days. Audit records are chained with
 * the real `hashRecord` under the key derived from the data dir's master key, and a signed
 * checkpoint of the new head is appended, so `audit verify` accepts the whole chain.
 */
export async function fillStore(
  dataDir: string,
  counts: FillCounts,
  progress: (message: string) => void,
): Promise<FilledStore> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const configPath = join(dataDir, 'keyrotor.yaml')
  let started = performance.now()
  const { adminToken } = await runInit({ dataDir })
  const masterKey = loadMasterKey({ dataDir })
  const auditKey = deriveAuditKey(masterKey)
  const sqlite = new SqliteDatabase(join(dataDir, SQLITE_FILE))
  try {
    // a generator's bulk load: durability per commit buys nothing here (a crash means run it again)
    sqlite.pragma('journal_mode = WAL')
    sqlite.pragma('synchronous = OFF')
    sqlite.pragma('foreign_keys = ON')
    const chain = await enrolKeys(sqlite, { keys: counts.keys, configPath, masterKey, auditKey })
    const keysSeconds = (performance.now() - started) / 1000
    progress(`enrolled ${counts.keys} keys in ${keysSeconds.toFixed(1)} s`)
    started = performance.now()
    const sampleCorrelationId = writeHistory(sqlite, counts)
    const historySeconds = (performance.now() - started) / 1000
    progress(
      `wrote ${counts.runs} runs, ${counts.runs * EVENTS_PER_RUN} run events, ${counts.alerts} alerts in ${historySeconds.toFixed(1)} s`,
    )
    started = performance.now()
    appendAudit(sqlite, auditKey, chain, counts, dataDir, progress)
    const auditSeconds = (performance.now() - started) / 1000
    progress(`audit log filled to ${counts.audit} records in ${auditSeconds.toFixed(1)} s`)
    sqlite.pragma('wal_checkpoint(TRUNCATE)')
    return {
      dataDir,
      adminToken,
      configPath,
      sampleKey: scaleKeyId(Math.floor(counts.keys / 2)),
      sampleCorrelationId,
      seconds: { keys: keysSeconds, history: historySeconds, audit: auditSeconds },
    }
  } finally {
    sqlite.close()
  }
}

/** Succeeded rotations spread over the keys and the last year, their events, and alerts. */
function writeHistory(sqlite: SqliteDatabase.Database, counts: FillCounts): string {
  const insertRun = sqlite.prepare(
    `insert into runs (id, key_id, kind, state, phase, phase_status, from_version, to_version, correlation_id,
       idempotency_key, trigger, requested_by, reason, priority, attempt, duplicate_count, fencing_token,
       created_at, started_at, finished_at)
     values (?, ?, 'rotate', 'succeeded', 'finalize', 'done', 1, 1, ?, null, 'schedule', 'scheduler', null, 0, 1, 0, 1, ?, ?, ?)`,
  )
  const insertEvent = sqlite.prepare(
    `insert into run_events (run_id, correlation_id, at, type, phase, message, data) values (?, ?, ?, ?, ?, ?, null)`,
  )
  const insertAlert = sqlite.prepare(
    `insert into alerts (id, type, severity, key_id, run_id, correlation_id, message, count, state, dedup_key, created_at, updated_at)
     values (?, 'probe.failed', 'warning', ?, ?, ?, ?, 1, ?, ?, ?, ?)`,
  )
  const yearAgo = Date.parse('2025-12-01T00:00:00Z')
  const spanMs = 365 * 86_400_000
  let sample = ''
  const runsInBatch = sqlite.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const id = randomUUID()
      const correlationId = randomUUID()
      const keyId = scaleKeyId(i % counts.keys)
      const at = yearAgo + Math.floor((i / counts.runs) * spanMs)
      const iso = (offset: number) => new Date(at + offset).toISOString()
      insertRun.run(id, keyId, correlationId, iso(0), iso(5), iso(60))
      for (let e = 0; e < EVENTS_PER_RUN; e++) {
        insertEvent.run(
          id,
          correlationId,
          iso(10 * e),
          'phase.succeeded',
          PHASES[e],
          `phase ${PHASES[e]} succeeded`,
        )
      }
      if (i < counts.alerts) {
        const state = i % 3 === 0 ? 'open' : 'acknowledged'
        const message = `dependent app of ${keyId} did not answer its probe`
        insertAlert.run(
          randomUUID(),
          keyId,
          id,
          correlationId,
          message,
          state,
          `probe.failed|${keyId}|${id}`,
          iso(30),
          iso(30),
        )
      }
      if (i === Math.floor(counts.runs / 2)) sample = correlationId
    }
  })
  for (let from = 0; from < counts.runs; from += BATCH) runsInBatch(from, Math.min(counts.runs, from + BATCH))
  return sample
}

/** Appends chained audit records until the log holds `counts.audit`, then checkpoints the head. */
function appendAudit(
  sqlite: SqliteDatabase.Database,
  key: Buffer,
  head: ChainCursor,
  counts: FillCounts,
  dataDir: string,
  progress: (message: string) => void,
): void {
  let seq = head.seq
  let prev = head.hash
  const insert = sqlite.prepare(
    `insert into audit_events (seq, at, actor, action, target, correlation_id, reason, details, prev_hash, hash)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const start = Date.parse('2025-12-01T00:00:00Z')
  const batch = sqlite.transaction((to: number) => {
    while (seq < to) {
      seq += 1
      const row: ChainedRow = {
        seq,
        at: new Date(start + seq * 3000).toISOString(),
        actor: `user-${seq % 97}`,
        action: AUDIT_ACTIONS[seq % AUDIT_ACTIONS.length] ?? 'rotate',
        target: scaleKeyId(seq % counts.keys),
        correlation_id: randomUUID(),
        reason: seq % 10 === 0 ? 'scheduled rotation' : null,
        details: JSON.stringify({ version: (seq % 7) + 1, source: 'scale-fill' }),
        prev_hash: prev,
      }
      prev = hashRecord(key, row)
      insert.run(
        row.seq,
        row.at,
        row.actor,
        row.action,
        row.target,
        row.correlation_id,
        row.reason,
        row.details,
        row.prev_hash,
        prev,
      )
    }
  })
  while (seq < counts.audit) {
    batch(Math.min(counts.audit, seq + 10 * BATCH))
    progress(`audit: ${seq} records`)
  }
  const checkpoint = signCheckpoint(key, { seq, headHash: prev, at: new Date().toISOString() })
  appendFileSync(join(dataDir, CHECKPOINT_FILE), `${JSON.stringify(checkpoint)}\n`, { mode: 0o600 })
}
