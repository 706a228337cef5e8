import { createHash } from 'node:crypto'
import { rotationAllowedAt, windowContaining } from '../../domain/windows.js'

type WindowInput = Parameters<typeof rotationAllowedAt>[0]

/** What the scheduler knows of one key at one moment (read from the store by rotation-scheduler.ts). */
export interface KeySnapshot {
  keyId: string
  /** policy.rotationPeriod as written, and in milliseconds; null when an external scheduler triggers. */
  rotationPeriod: string | null
  rotationPeriodMs: number | null
  windowName: string | undefined
  frozen: boolean
  /** The active version and when it was created: the period counts from its creation. */
  active: { version: number; createdAt: Date } | null
  liveRun: { id: string; kind: string; state: string; trigger: string } | null
  /** Earlier scheduled runs for the active version (idempotency keys `sched:{key}:v{n}[#k]`), oldest first. */
  links: readonly ScheduledLink[]
}

export interface ScheduledLink {
  id: string
  state: string
  failureClass: string | null
  finishedAt: string | null
}

export interface PlanContext {
  now: Date
  halted: boolean
  windows: WindowInput['windows']
  blackouts: WindowInput['blackouts']
  /** After a pre-flight refusal (nothing changed), how long before the scheduler tries again. */
  retryMs: number
  /** The longest a key without a window is held back to spread a fleet that fell due together. */
  maxSpreadMs: number
}

export const SCHEDULE_STATUSES = [
  'due',
  'waiting',
  'not_due',
  'outside_window',
  'blackout',
  'halted',
  'running',
  'frozen',
  'retry_later',
  'needs_attention',
  'no_period',
  'no_active_version',
] as const
export type ScheduleStatus = (typeof SCHEDULE_STATUSES)[number]

export interface SchedulePlan {
  key: string
  rotationPeriod: string | null
  window: string | null
  activeVersion: number | null
  activeSince: string | null
  /** When the active version's period ends. */
  dueAt: string | null
  /** The earliest time the scheduler may start the rotation, as far as it can tell now. */
  nextAttemptAt: string | null
  status: ScheduleStatus
  reason: string
  /** The live run, or the scheduled run that decides the status. */
  runId: string | null
  /** Set when status is 'due': the idempotency key the run starts with. */
  idempotencyKey: string | null
}

// a window's second half is left for the runs themselves: a key starting late still ends inside
const WINDOW_SPREAD = 0.5
// without a window, a fleet that fell due together spreads over a tenth of its period at most
const PERIOD_SPREAD = 0.1

/** Decides what the scheduler does with one key now, and says why. Pure: no I/O. */
export function planKey(key: KeySnapshot, ctx: PlanContext): SchedulePlan {
  const plan: SchedulePlan = {
    key: key.keyId,
    rotationPeriod: key.rotationPeriod,
    window: key.windowName ?? null,
    activeVersion: key.active?.version ?? null,
    activeSince: key.active?.createdAt.toISOString() ?? null,
    dueAt: null,
    nextAttemptAt: null,
    status: 'no_period',
    reason: 'no rotationPeriod: rotated only when triggered (CLI, API, an external scheduler)',
    runId: key.liveRun?.id ?? null,
    idempotencyKey: null,
  }
  if (key.active === null) return { ...plan, status: 'no_active_version', reason: 'no active version' }
  if (key.rotationPeriodMs === null) return plan
  const dueAt = new Date(key.active.createdAt.getTime() + key.rotationPeriodMs)
  const due = { ...plan, dueAt: dueAt.toISOString() }
  const v = key.active.version
  if (key.frozen) return { ...due, status: 'frozen', reason: 'frozen by an unexpected transition: verify it' }
  if (key.liveRun !== null) {
    const r = key.liveRun
    return { ...due, status: 'running', reason: `${r.trigger} ${r.kind} run ${r.id} is ${r.state}` }
  }
  if (ctx.halted) return { ...due, status: 'halted', reason: 'the global halt is engaged: nothing starts' }
  if (ctx.now < dueAt) {
    return { ...due, status: 'not_due', nextAttemptAt: due.dueAt, reason: `v${v} is due at ${due.dueAt}` }
  }
  // a scheduled run already tried this version: only a pre-flight refusal (nothing changed) is retried
  const last = key.links.at(-1)
  let retryAt: Date | null = null
  if (last !== undefined) {
    const refused = last.state === 'failed' && last.failureClass === 'preflight_rejected'
    if (!refused) {
      const what = `scheduled run ${last.id} ended ${last.state}${last.failureClass === null ? '' : ` (${last.failureClass})`}`
      return { ...due, status: 'needs_attention', runId: last.id, reason: `${what}: a person decides` }
    }
    retryAt = new Date(new Date(last.finishedAt ?? ctx.now).getTime() + ctx.retryMs)
    if (ctx.now < retryAt) {
      const reason = `scheduled run ${last.id} was refused by pre-flight; tries again at ${retryAt.toISOString()}`
      return { ...due, status: 'retry_later', runId: last.id, nextAttemptAt: retryAt.toISOString(), reason }
    }
  }
  const idempotencyKey = `sched:${key.keyId}:v${v}${key.links.length === 0 ? '' : `#${key.links.length + 1}`}`
  const allowed = (at: Date, blackouts = ctx.blackouts) =>
    rotationAllowedAt({ keyId: key.keyId, windowName: key.windowName, windows: ctx.windows, blackouts, at })
  const current = allowed(ctx.now)
  if (!current.allowed) {
    // the same question without blackouts tells a blackout from a closed window
    const status = allowed(ctx.now, []).allowed ? 'blackout' : 'outside_window'
    return {
      ...due,
      status,
      nextAttemptAt: current.nextAllowedAt?.toISOString() ?? null,
      reason: current.reason,
    }
  }
  // a retry goes at once; a first start waits its key's share of the spread
  const startAt = retryAt ?? spreadStart(key, dueAt, key.rotationPeriodMs, ctx, current.closesAt)
  if (ctx.now < startAt) {
    const at = startAt.toISOString()
    return { ...due, status: 'waiting', nextAttemptAt: at, reason: `spreading the fleet: starts at ${at}` }
  }
  return { ...due, status: 'due', nextAttemptAt: ctx.now.toISOString(), reason: 'due', idempotencyKey }
}

/**
 * When this key starts: from the moment it may first go in the current opening (the window's
 * opening, or its due time if it fell due inside), plus a deterministic offset from a hash of
 * its id. The offset spans the first half of what is left of the opening, so thousands of keys
 * that opened together do not stampede, and none is pushed past the close (nor into a blackout
 * that begins later); without a window, a tenth of the period, at most maxSpreadMs.
 */
function spreadStart(
  key: KeySnapshot,
  dueAt: Date,
  periodMs: number,
  ctx: PlanContext,
  allowedUntil: Date | null,
): Date {
  const window = key.windowName === undefined ? undefined : ctx.windows[key.windowName]
  const opening = window === undefined ? null : windowContaining(window, ctx.now)
  const from = opening === null ? dueAt : new Date(Math.max(dueAt.getTime(), opening.opens.getTime()))
  const until = allowedUntil ?? opening?.closes ?? null
  const span =
    until === null
      ? Math.min(periodMs * PERIOD_SPREAD, ctx.maxSpreadMs)
      : Math.max(0, until.getTime() - from.getTime()) * WINDOW_SPREAD
  return new Date(from.getTime() + Math.floor(jitterFraction(key.keyId) * span))
}

/** A stable fraction in [0, 1) per key: the same on every instance and after every restart. */
export function jitterFraction(keyId: string): number {
  return createHash('sha256').update(keyId).digest().readUInt32BE(0) / 2 ** 32
}
