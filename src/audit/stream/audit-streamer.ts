import type { Kysely } from 'kysely'
import type { AuditSinkConfig } from '../../config/schema.js'
import type { Database } from '../../store/tables.js'
import { toEvent, type AuditEvent } from '../audit-log.js'
import { auditSinkId, type AuditSink, type AuditSinkContext } from './audit-sink.js'
import { createAuditSink } from './sink-registry.js'

export interface AuditStreamLog {
  warn(fields: Record<string, unknown>, message: string): void
}

export interface AuditStreamerOptions {
  db: Kysely<Database>
  /** `notifications.audit` of the active config (main.ts passes it: config lives above audit/). */
  targets: () => Promise<readonly AuditSinkConfig[]>
  secretOf: (name: string) => string | undefined
  log: AuditStreamLog
  now?: () => Date
  pollMs?: number
  /** Records per delivery (an http sink's own batchSize may be smaller). */
  batch?: number
  timeoutMs?: number
  backoffBaseMs?: number
  backoffMaxMs?: number
  /** Told every delivery's outcome (metrics). */
  onAttempt?: (sink: AuditSink, outcome: 'delivered' | 'retry', records: number) => void
}

export type AuditStreamer = ReturnType<typeof createAuditStreamer>

/** What a deployment (or a test) may tune. */
export type AuditStreamTimings = Pick<
  AuditStreamerOptions,
  'pollMs' | 'batch' | 'timeoutMs' | 'backoffBaseMs' | 'backoffMaxMs'
>

const WARN_EVERY_MS = 60_000

/**
 * Streams every committed audit record to each `notifications.audit` sink, in seq order, at
 * least once. The audit table is the durable outbox: each sink has a cursor (the last seq it
 * acknowledged) in `audit_stream_cursors`, advanced only after a delivery succeeded, so a crash
 * or a dead collector means a resend from the cursor, never a gap. Runs never wait on it: the
 * streamer reads what runs already committed, and each sink goes at its own pace.
 */
export function createAuditStreamer(options: AuditStreamerOptions) {
  const { db, log } = options
  const now = options.now ?? (() => new Date())
  const pollMs = options.pollMs ?? 1000
  const batch = options.batch ?? 500
  const timeoutMs = options.timeoutMs ?? 10_000
  const baseMs = options.backoffBaseMs ?? 1000
  const maxMs = options.backoffMaxMs ?? 300_000
  // a sender that dies mid-delivery gives the sink back after its lease
  const leaseMs = timeoutMs * 2 + 5000
  const context: AuditSinkContext = { secretOf: options.secretOf, timeoutMs }
  const sinks = new Map<string, { sink: AuditSink; config: AuditSinkConfig }>()
  const busy = new Map<string, Promise<void>>()
  const lastWarned = new Map<string, number>()
  let timer: NodeJS.Timeout | undefined
  let stopped = false

  async function refresh(): Promise<void> {
    let configs: readonly AuditSinkConfig[]
    try {
      configs = await options.targets()
    } catch (error) {
      log.warn({ err: error }, 'could not read the audit sinks of the active config; keeping the last ones')
      return
    }
    const wanted = new Map(configs.map((c) => [auditSinkId(c), c]))
    for (const [id, entry] of sinks) {
      if (JSON.stringify(wanted.get(id)) === JSON.stringify(entry.config)) continue
      sinks.delete(id)
      await entry.sink.close()
    }
    for (const [id, config] of wanted) {
      if (!sinks.has(id)) sinks.set(id, { sink: createAuditSink(config, context), config })
    }
  }

  /** One pass: starts a delivery for every idle sink; a slow sink holds only itself. */
  async function pass(): Promise<void> {
    await refresh()
    for (const { sink } of sinks.values()) {
      if (busy.has(sink.id)) continue
      const running = catchUp(sink)
        .catch((error: unknown) => warn(sink, { err: error }, 'audit stream pass failed'))
        .finally(() => busy.delete(sink.id))
      busy.set(sink.id, running)
    }
  }

  /** Sends batches until the sink has every committed record or a delivery fails. */
  async function catchUp(sink: AuditSink): Promise<void> {
    await ensureCursor(sink)
    let cursor = await claim(sink)
    while (cursor !== undefined && !stopped) {
      const limit = batchOf(sink)
      const records = await pending(cursor, limit)
      if (records.length === 0) return release(sink, {})
      try {
        await sink.send(records)
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        await failed(sink, message)
        options.onAttempt?.(sink, 'retry', records.length)
        return
      }
      const last = records[records.length - 1]!.seq
      await release(sink, { delivered_seq: last, attempts: 0, last_error: null })
      options.onAttempt?.(sink, 'delivered', records.length)
      cursor = records.length < limit ? undefined : await claim(sink)
    }
  }

  function batchOf(sink: AuditSink): number {
    const config = sinks.get(sink.id)?.config
    return config?.type === 'http' ? Math.min(batch, config.batchSize) : batch
  }

  async function ensureCursor(sink: AuditSink): Promise<void> {
    const at = now().toISOString()
    await db
      .insertInto('audit_stream_cursors')
      .values({
        sink: sink.id,
        sink_type: sink.type,
        delivered_seq: 0,
        attempts: 0,
        last_error: null,
        next_attempt_at: at,
        leased_until: at,
        updated_at: at,
      })
      .onConflict((oc) => oc.column('sink').doNothing())
      .execute()
  }

  /** Takes the sink's lease when it is due and free; resolves with its cursor, or undefined. */
  async function claim(sink: AuditSink): Promise<number | undefined> {
    const at = now().toISOString()
    const taken = await db
      .updateTable('audit_stream_cursors')
      .set({ leased_until: new Date(now().getTime() + leaseMs).toISOString() })
      .where('sink', '=', sink.id)
      .where('leased_until', '<=', at)
      .where('next_attempt_at', '<=', at)
      .executeTakeFirst()
    if (taken.numUpdatedRows !== 1n) return undefined
    const row = await db
      .selectFrom('audit_stream_cursors')
      .select('delivered_seq')
      .where('sink', '=', sink.id)
      .executeTakeFirstOrThrow()
    return Number(row.delivered_seq)
  }

  async function pending(afterSeq: number, limit: number): Promise<AuditEvent[]> {
    const rows = await db
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute()
    return rows.map((r) => toEvent({ ...r, seq: Number(r.seq) }))
  }

  async function release(
    sink: AuditSink,
    patch: {
      delivered_seq?: number
      attempts?: number
      last_error?: string | null
      next_attempt_at?: string
    },
  ): Promise<void> {
    const at = now().toISOString()
    await db
      .updateTable('audit_stream_cursors')
      .set({ ...patch, leased_until: at, updated_at: at })
      .where('sink', '=', sink.id)
      .execute()
  }

  async function failed(sink: AuditSink, message: string): Promise<void> {
    const row = await db
      .selectFrom('audit_stream_cursors')
      .select(['attempts', 'delivered_seq'])
      .where('sink', '=', sink.id)
      .executeTakeFirstOrThrow()
    const attempts = Number(row.attempts) + 1
    const delay = Math.min(maxMs, baseMs * 2 ** Math.min(attempts - 1, 20))
    await release(sink, {
      attempts,
      last_error: message.slice(0, 500),
      next_attempt_at: new Date(now().getTime() + delay).toISOString(),
    })
    warn(
      sink,
      { sink: sink.id, attempts, deliveredSeq: Number(row.delivered_seq), error: message.slice(0, 500) },
      'audit sink unreachable; records are kept and will be sent again',
    )
  }

  /** At most one warning a minute per sink: a dead SIEM must not flood the log. */
  function warn(sink: AuditSink, fields: Record<string, unknown>, message: string): void {
    const at = now().getTime()
    if (at - (lastWarned.get(sink.id) ?? -Infinity) < WARN_EVERY_MS) return
    lastWarned.set(sink.id, at)
    log.warn(fields, message)
  }

  function schedule(): void {
    if (stopped) return
    timer = setTimeout(() => {
      pass()
        .catch((error: unknown) => log.warn({ err: error }, 'audit stream pass failed'))
        .finally(schedule)
    }, pollMs)
    timer.unref()
  }

  return {
    start(): void {
      schedule()
    },
    /** One pass and its deliveries, awaited: deterministic for tests. */
    async drainNow(): Promise<void> {
      await pass()
      await Promise.all([...busy.values()])
    },
    /** How far each sink is (metrics, tests). */
    async cursors(): Promise<
      { sink: string; deliveredSeq: number; attempts: number; lastError: string | null }[]
    > {
      const rows = await db.selectFrom('audit_stream_cursors').selectAll().orderBy('sink').execute()
      return rows.map((r) => ({
        sink: r.sink,
        deliveredSeq: Number(r.delivered_seq),
        attempts: Number(r.attempts),
        lastError: r.last_error,
      }))
    },
    async stop(): Promise<void> {
      stopped = true
      clearTimeout(timer)
      await Promise.all([...busy.values()])
      for (const { sink } of sinks.values()) await sink.close()
      sinks.clear()
    },
  }
}
