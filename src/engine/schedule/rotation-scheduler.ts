import { sql, type Kysely } from 'kysely'
import { parseDuration } from '../../domain/duration.js'
import { isKeyrotorError } from '../../errors.js'
import { loadActiveConfig } from '../../store/config-versions-repository.js'
import { dialectOf } from '../../store/dialect.js'
import type { Database } from '../../store/tables.js'
import type { EngineDeps } from '../engine-deps.js'
import { ENGINE_ACTOR } from '../../domain/actors.js'
import { readHalt } from '../../store/halt-repository.js'
import type { RunService } from '../runs/rotation-service.js'
import { decodePolicy } from '../../store/key-columns.js'
import { planKey, type KeySnapshot, type PlanContext, type SchedulePlan } from './schedule-plan.js'

export interface RotationSchedulerOptions {
  intervalMs: number
  /** The most scheduled runs non-terminal at once, across all instances. */
  concurrency: number
  /** After a pre-flight refusal, how long before the scheduler tries the key again. */
  retryMs: number
  /** The longest a key without a window is held back to spread a fleet. */
  maxSpreadMs: number
}

export interface ScheduleView {
  at: string
  halted: boolean
  concurrency: number
  /** Scheduled runs non-terminal now. */
  running: number
  keys: SchedulePlan[]
}

// any fixed number: instances only need to agree on it
const SCHEDULER_LOCK = 0x6b72_7363
// the longest the timer goes without a full pass, for what it is not told of (another instance
// applied a config or finished a run, the halt was released)
const FULL_PASS_MS = 30_000
// the statuses that change by the clock alone, at nextAttemptAt; the others change by an event
const CLOCK_STATUSES: ReadonlySet<string> = new Set([
  'not_due',
  'retry_later',
  'waiting',
  'outside_window',
  'blackout',
])

/**
 * The built-in schedule: starts a rotation of every key whose active version is older than its
 * rotationPeriod, when its window allows, at most `concurrency` at once. Like the revoke
 * scheduler it keeps no state of its own: the due time derives from the active version's
 * created_at, and the idempotency key `sched:{key}:v{n}` makes each due rotation start once,
 * whichever instance sees it first and however often it restarts.
 */
export function createRotationScheduler(
  deps: Pick<EngineDeps, 'db' | 'now' | 'log'>,
  runs: Pick<RunService, 'request'>,
  options: RotationSchedulerOptions,
) {
  const { db } = deps
  let timer: NodeJS.Timeout | undefined
  let running: Promise<unknown> = Promise.resolve()
  // A pass plans every key: with a large fleet that is most of an idle server's work. After a
  // pass that left nothing due, the timer skips passes until the earliest time a key's plan can
  // change by the clock, an event on this instance (`changed()`), or FULL_PASS_MS.
  let quietUntil = 0
  let lastPass = 0
  let changedSince = true

  async function plan(): Promise<ScheduleView> {
    const now = deps.now()
    const [config, halt, snapshots] = await Promise.all([
      loadActiveConfig(db),
      readHalt(db),
      readSnapshots(db),
    ])
    const ctx: PlanContext = {
      now,
      halted: halt.engaged,
      windows: config?.windows ?? {},
      blackouts: config?.blackouts ?? [],
      retryMs: options.retryMs,
      maxSpreadMs: options.maxSpreadMs,
    }
    const running = snapshots.filter((k) => k.liveRun?.trigger === 'scheduler').length
    return {
      at: now.toISOString(),
      halted: halt.engaged,
      concurrency: options.concurrency,
      running,
      keys: snapshots.map((key) => planKey(key, ctx)),
    }
  }

  async function startDue(): Promise<number> {
    const view = await plan()
    const free = options.concurrency - view.running
    // most overdue first; the worker then claims by priority (scheduled runs come last)
    const allDue = view.keys.filter((p) => p.status === 'due')
    quietUntil = allDue.length > 0 ? 0 : earliestClockChange(view.keys)
    const due = allDue
      .sort((a, b) => (a.dueAt ?? '').localeCompare(b.dueAt ?? ''))
      .slice(0, Math.max(0, free))
    let started = 0
    for (const p of due) {
      try {
        const { run, created } = await runs.request({
          keyId: p.key,
          kind: 'rotate',
          actor: ENGINE_ACTOR,
          trigger: 'scheduler',
          idempotencyKey: p.idempotencyKey ?? undefined,
          reason: `rotationPeriod ${p.rotationPeriod ?? '?'} elapsed for v${p.activeVersion ?? '?'}`,
        })
        if (created) {
          started++
          deps.log.info({ key: p.key, runId: run.id }, `scheduled rotation of v${p.activeVersion} started`)
        }
      } catch (error) {
        // a manual run got there first, the halt was engaged, or the key froze: next tick decides
        const waits = ['CONCURRENT_ROTATION', 'HALTED', 'PREFLIGHT_REJECTED'] as const
        if (!waits.some((code) => isKeyrotorError(error, code))) {
          deps.log.error({ key: p.key, err: error }, 'starting a scheduled rotation failed')
        }
      }
    }
    return started
  }

  /** One pass; on PostgreSQL only one instance at a time, so the concurrency limit is global. */
  async function tick(): Promise<number> {
    if (dialectOf(db as Kysely<unknown>) !== 'postgres') return startDue()
    // a transaction-scoped lock: a frozen holder's session is ended by the idle-in-transaction
    // timeout (store/database.ts), so it cannot stop the other instances' schedule for good
    return db.transaction().execute(async (trx) => {
      const { rows } = await sql<{
        got: boolean
      }>`select pg_try_advisory_xact_lock(${SCHEDULER_LOCK}) as got`.execute(trx)
      return rows[0]?.got === true ? startDue() : 0
    })
  }

  return {
    tick,
    plan,
    /** Something a plan reads changed on this instance (a run's phase committed): plan at the next tick. */
    changed(): void {
      changedSince = true
    },
    start(): void {
      const loop = () => {
        const now = deps.now().getTime()
        const quiet = !changedSince && now < quietUntil && now - lastPass < FULL_PASS_MS
        if (!quiet) {
          changedSince = false
          lastPass = now
        }
        running = (quiet ? Promise.resolve(0) : tick())
          .catch((error: unknown) => deps.log.error({ err: error }, 'rotation scheduler tick failed'))
          .finally(() => {
            if (timer !== undefined) timer = setTimeout(loop, options.intervalMs)
          })
      }
      timer = setTimeout(loop, options.intervalMs)
    },
    /** Stops the timer and waits for a pass in progress, so that the store can close after it. */
    async stop(): Promise<void> {
      clearTimeout(timer)
      timer = undefined
      await running
    },
  }
}

export type RotationScheduler = ReturnType<typeof createRotationScheduler>

/** The first nextAttemptAt among the plans that change by the clock alone (Infinity: none). */
function earliestClockChange(plans: readonly SchedulePlan[]): number {
  let earliest = Infinity
  for (const p of plans) {
    if (CLOCK_STATUSES.has(p.status) && p.nextAttemptAt !== null) {
      earliest = Math.min(earliest, Date.parse(p.nextAttemptAt))
    }
  }
  return earliest
}

/** Every key with what planKey needs, in four queries whatever the size of the fleet. */
async function readSnapshots(db: Kysely<Database>): Promise<KeySnapshot[]> {
  const [keys, actives, live] = await Promise.all([
    db.selectFrom('keys').select(['id', 'policy', 'frozen_at']).orderBy('id').execute(),
    db
      .selectFrom('key_versions')
      .select(['key_id', 'version', 'created_at'])
      .where('state', '=', 'active')
      .execute(),
    db
      .selectFrom('runs')
      .select(['id', 'key_id', 'kind', 'state', 'trigger'])
      .where('active_key', 'is not', null)
      .execute(),
  ])
  const oldest = actives.map((a) => a.created_at).sort()[0]
  // a run for version n is created after n was: older scheduled runs cannot be links of it
  const links =
    oldest === undefined
      ? []
      : await db
          .selectFrom('runs')
          .select(['id', 'idempotency_key', 'state', 'failure_class', 'finished_at'])
          .where('trigger', '=', 'scheduler')
          .where('idempotency_key', 'like', 'sched:%')
          .where('created_at', '>=', oldest)
          .orderBy('created_at')
          .execute()
  const activeOf = new Map(actives.map((a) => [a.key_id, a]))
  const liveOf = new Map(live.map((r) => [r.key_id, r]))
  // `sched:{key}:v{n}` and its retries `sched:{key}:v{n}#2`, … grouped under the first
  const linksOf = new Map<string, KeySnapshot['links'][number][]>()
  for (const l of links) {
    const base = (l.idempotency_key ?? '').replace(/#\d+$/, '')
    const link = { id: l.id, state: l.state, failureClass: l.failure_class, finishedAt: l.finished_at }
    linksOf.set(base, [...(linksOf.get(base) ?? []), link])
  }
  return keys.map((row) => {
    const policy = decodePolicy(row.policy, row.id)
    const active = activeOf.get(row.id)
    return {
      keyId: row.id,
      rotationPeriod: policy.rotationPeriod ?? null,
      rotationPeriodMs: policy.rotationPeriod === undefined ? null : parseDuration(policy.rotationPeriod),
      windowName: policy.window,
      frozen: row.frozen_at !== null,
      active:
        active === undefined ? null : { version: active.version, createdAt: new Date(active.created_at) },
      liveRun: liveOf.get(row.id) ?? null,
      links: active === undefined ? [] : (linksOf.get(`sched:${row.id}:v${active.version}`) ?? []),
    }
  })
}
