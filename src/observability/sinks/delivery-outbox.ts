import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { Database, NotificationRow } from '../../store/tables.js'
import { decodeOutboxPayload, encodeOutboxPayload } from '../../store/outbox-columns.js'
import { backoffMs, hostOf, sendOnce } from './send.js'
import { subjectOf, takes, type Notification, type SinkTarget } from './sink.js'

export interface OutboxLog {
  info(fields: Record<string, unknown>, message: string): void
  warn(fields: Record<string, unknown>, message: string): void
}

export interface DeliveryOutboxOptions {
  db: Kysely<Database>
  /** The sinks of the active config; asked before every drain (cache inside, it is hot). */
  targets: () => Promise<readonly SinkTarget[]>
  secretOf: (name: string) => string | undefined
  log: OutboxLog
  now?: () => Date
  pollMs?: number
  requestTimeoutMs?: number
  backoffBaseMs?: number
  backoffMaxMs?: number
  /** After this many failed attempts a row is `failed` and left for a person. */
  maxAttempts?: number
  /** Told the outcome of every attempt (the metrics counter listens). */
  onAttempt?: (target: SinkTarget, outcome: 'delivered' | 'retry' | 'failed') => void
}

export type DeliveryOutbox = ReturnType<typeof createDeliveryOutbox>

/** The timings a deployment (or a test) may change. */
export type OutboxTimings = Pick<
  DeliveryOutboxOptions,
  'pollMs' | 'requestTimeoutMs' | 'backoffBaseMs' | 'backoffMaxMs' | 'maxAttempts'
>

const BATCH = 200
let sequence = 0

/**
 * The durable notification outbox. `enqueue` writes one row per configured sink through the
 * caller's executor (the transaction of the alert or incident change), so a run never waits on
 * a receiver: the background loop delivers, retries with capped exponential backoff, and picks
 * up after a restart whatever was not delivered. Rows of one subject and sink go out in order
 * (a PagerDuty resolve never overtakes its trigger). A row is claimed by moving its
 * `next_attempt_at` past the request timeout, so instances sharing a database do not double-send.
 */
export function createDeliveryOutbox(options: DeliveryOutboxOptions) {
  const { db, log } = options
  const now = options.now ?? (() => new Date())
  const pollMs = options.pollMs ?? 1000
  const timeoutMs = options.requestTimeoutMs ?? 10_000
  const baseMs = options.backoffBaseMs ?? 1000
  const maxMs = options.backoffMaxMs ?? 300_000
  const maxAttempts = options.maxAttempts ?? 25
  let cached: readonly SinkTarget[] = []
  const stopping = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let draining: Promise<void> | undefined
  const inflight = new Set<Promise<void>>()

  async function refresh(): Promise<readonly SinkTarget[]> {
    try {
      cached = await options.targets()
    } catch (error) {
      log.warn(
        { err: error },
        'could not read the notification sinks of the active config; keeping the last ones',
      )
    }
    return cached
  }

  async function enqueue(executor: Kysely<Database>, notification: Notification): Promise<void> {
    const targets = cached.filter((t) => takes(t, notification))
    if (targets.length === 0) return
    const at = now()
    const payload = encodeOutboxPayload(notification)
    await executor
      .insertInto('notification_outbox')
      .values(
        targets.map((target) => ({
          id: nextId(at),
          channel: target.channel,
          sink: target.id,
          sink_type: target.type,
          subject_id: subjectOf(notification),
          event: notification.event,
          payload,
          state: 'pending',
          attempts: 0,
          last_error: null,
          next_attempt_at: at.toISOString(),
          created_at: at.toISOString(),
          updated_at: at.toISOString(),
          delivered_at: null,
        })),
      )
      .execute()
  }

  /**
   * One pass: starts an attempt for every due row that heads its (sink, subject) queue. It does
   * not wait for them: a receiver that hangs holds only its own rows, never the next pass.
   */
  async function drain(): Promise<void> {
    const targets = new Map((await refresh()).map((t) => [t.id, t]))
    const rows = await db
      .selectFrom('notification_outbox')
      .selectAll()
      .where('state', '=', 'pending')
      .orderBy('id')
      .limit(BATCH)
      .execute()
    const heads = new Map<string, NotificationRow>()
    for (const row of rows)
      if (!heads.has(`${row.sink}|${row.subject_id}`)) heads.set(`${row.sink}|${row.subject_id}`, row)
    const due = [...heads.values()].filter((row) => row.next_attempt_at <= now().toISOString())
    for (const row of due) {
      const running: Promise<void> = attempt(row, targets.get(row.sink))
        .catch((error: unknown) =>
          log.warn({ err: error, notification: row.id }, 'notification attempt failed'),
        )
        .finally(() => inflight.delete(running))
      inflight.add(running)
    }
  }

  /** Every attempt started so far has settled (tests and `stop` wait on this). */
  async function settled(): Promise<void> {
    while (inflight.size > 0) await Promise.all([...inflight])
  }

  async function attempt(row: NotificationRow, target: SinkTarget | undefined): Promise<void> {
    if (!(await claim(row))) return
    const attempts = Number(row.attempts) + 1
    const at = now()
    if (target === undefined) {
      await finish(row, {
        state: 'failed',
        attempts,
        last_error: 'the sink is no longer in the active config',
      })
      return
    }
    const notification: Notification = decodeOutboxPayload(row)
    const result = await sendOnce(target, notification, {
      secretOf: options.secretOf,
      timeoutMs,
      signal: stopping.signal,
      nowMs: at.getTime(),
      db,
      previousAttempts: Number(row.attempts),
    })
    const fields = {
      sink: target.id,
      host: hostOf(target.url),
      subject: row.subject_id,
      event: row.event,
      attempts,
    }
    if (result.ok) {
      await finish(row, { state: 'delivered', attempts, last_error: null, delivered_at: now().toISOString() })
      options.onAttempt?.(target, 'delivered')
      return
    }
    if (stopping.signal.aborted) {
      // not the receiver's fault: give the claim back so the next start sends it at once
      await finish(row, { state: 'pending', next_attempt_at: now().toISOString() })
      return
    }
    // a refusal (a ticketing API's 4xx, a template that does not render) is not retried
    const givingUp = result.permanent === true || attempts >= maxAttempts
    await finish(row, {
      state: givingUp ? 'failed' : 'pending',
      attempts,
      last_error: result.error,
      next_attempt_at: new Date(now().getTime() + backoffMs(attempts, baseMs, maxMs)).toISOString(),
    })
    options.onAttempt?.(target, givingUp ? 'failed' : 'retry')
    log.warn(
      { ...fields, error: result.error },
      result.permanent === true
        ? 'notification refused by its receiver; not retried'
        : givingUp
          ? 'notification given up'
          : 'notification failed; will retry',
    )
  }

  async function claim(row: NotificationRow): Promise<boolean> {
    const result = await db
      .updateTable('notification_outbox')
      .set({ next_attempt_at: new Date(now().getTime() + timeoutMs + 5000).toISOString() })
      .where('id', '=', row.id)
      .where('state', '=', 'pending')
      .where('next_attempt_at', '=', row.next_attempt_at)
      .executeTakeFirst()
    return result.numUpdatedRows === 1n
  }

  async function finish(row: NotificationRow, patch: Partial<Omit<NotificationRow, 'id'>>): Promise<void> {
    await db
      .updateTable('notification_outbox')
      .set({ ...patch, updated_at: now().toISOString() })
      .where('id', '=', row.id)
      .execute()
  }

  function schedule(delayMs: number): void {
    if (stopping.signal.aborted) return
    clearTimeout(timer)
    timer = setTimeout(tick, delayMs)
    timer.unref()
  }

  function tick(): void {
    if (draining !== undefined) return
    draining = drain()
      .catch((error: unknown) => log.warn({ err: error }, 'notification outbox pass failed'))
      .finally(() => {
        draining = undefined
        schedule(pollMs)
      })
  }

  return {
    enqueue,
    /** Whether a sink of the active config takes incident timeline comments (a ticketing sink). */
    takesIncidentComments(): boolean {
      return cached.some((t) => t.channel === 'incidents' && t.ticket !== undefined)
    },
    /** Reads the sinks now, so alerts raised before the first pass are not missed. */
    refresh,
    /** One pass, then waits for its attempts: deterministic for tests. */
    async drainNow(): Promise<void> {
      await drain()
      await settled()
    },
    async start(): Promise<void> {
      await refresh()
      schedule(0)
    },
    /** Stops the loop and interrupts deliveries in flight (their rows stay pending). */
    async stop(): Promise<void> {
      stopping.abort()
      clearTimeout(timer)
      await draining
      await settled()
    },
    /** Rows not delivered yet (the metrics gauge reads this on scrape). */
    async pendingCount(): Promise<number> {
      const row = await db
        .selectFrom('notification_outbox')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('state', '=', 'pending')
        .executeTakeFirstOrThrow()
      return Number(row.n)
    },
  }
}

/** Sortable by creation (time, then this process's sequence), so one subject's rows keep their order. */
function nextId(at: Date): string {
  sequence = (sequence + 1) % 36 ** 4
  return `ntf_${at.getTime().toString(36).padStart(9, '0')}${sequence.toString(36).padStart(4, '0')}${randomBytes(4).toString('hex')}`
}
