import { Cron } from 'croner'
import { KeyrotorError } from '../errors.js'
import { parseDuration } from './duration.js'
import type { RunKind, Trigger } from './runs.js'

/** A change window: it opens at every time the cron expression names and stays open `duration`. */
export interface WindowSpec {
  /** Five-field cron expression, read in `timezone`. */
  readonly cron: string
  /** How long each opening lasts, in elapsed time (so across a DST change too): "6h", "20s". */
  readonly duration: string
  /** IANA time zone, e.g. "UTC", "Europe/Paris". */
  readonly timezone: string
}

/** A freeze: from (inclusive) to (exclusive), for every key or only the keys listed. */
export interface BlackoutSpec {
  readonly from: string
  readonly to: string
  readonly reason: string
  readonly keys?: readonly string[] | undefined
}

/** One opening of a window: [opens, closes). */
export interface WindowSpan {
  opens: Date
  closes: Date
}

/**
 * Whether a rotation may start now. `closesAt` is when that permission ends (the window closes
 * or a blackout begins, whichever is first; null when neither bounds it). `nextAllowedAt` is the
 * first later instant a rotation may start, or null when none comes within the search horizon.
 */
export type RotationDecision =
  { allowed: true; closesAt: Date | null } | { allowed: false; reason: string; nextAllowedAt: Date | null }

/** How far ahead the next allowed instant is searched for. */
export const SEARCH_HORIZON_MS = 400 * 86_400_000

/** Only ordinary rotations wait for windows: an approved emergency, a forward correction and a revoke do not. */
export function windowsApply(kind: RunKind, trigger: Trigger): boolean {
  return kind === 'rotate' && (trigger === 'manual' || trigger === 'scheduler')
}

// Parsed patterns are kept: the search below asks the same window many times.
const schedules = new Map<string, Cron>()

function schedule(window: WindowSpec): Cron {
  const id = `${window.timezone}|${window.cron}`
  let cron = schedules.get(id)
  if (cron === undefined) {
    const problem = cronProblem(window)
    if (problem !== null) throw new KeyrotorError('INVALID_CONFIG', problem)
    // "no-wildcard": a fixed time in a DST gap opens at the first valid time after it and a
    // repeated time opens once, as Vixie cron does; wildcard patterns simply follow the clock.
    cron = new Cron(window.cron, {
      paused: true,
      timezone: window.timezone,
      mode: '5-part',
      fixedTimeRule: 'no-wildcard',
    })
    if (schedules.size >= 256) schedules.clear()
    schedules.set(id, cron)
  }
  return cron
}

/** Why the window's cron expression or time zone cannot be used, or null when it can. */
export function cronProblem(window: WindowSpec): string | null {
  try {
    new Cron(window.cron, { paused: true, timezone: window.timezone, mode: '5-part' })
    return null
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error)
    return `cron "${window.cron}" (${window.timezone}) is not usable: ${why}`
  }
}

function durationMs(window: WindowSpec): number {
  return parseDuration(window.duration)
}

/** The first opening strictly after `after`, or null when the expression never matches again. */
export function nextOpening(window: WindowSpec, after: Date): Date | null {
  return schedule(window).nextRun(after)
}

/**
 * The opening that `at` falls in, or null when the window is closed at `at`. When openings
 * overlap (duration longer than the interval) `closes` is the end of the whole overlapping run,
 * searched at most 1,000 openings ahead.
 */
export function windowContaining(window: WindowSpec, at: Date): WindowSpan | null {
  const cron = schedule(window)
  const length = durationMs(window)
  // previousRuns excludes a run exactly at the reference: look from just after `at`
  const opens = cron.previousRuns(1, new Date(at.getTime() + 1))[0]
  if (opens === undefined || opens.getTime() + length <= at.getTime()) return null
  let closes = opens.getTime() + length
  let from = opens
  for (let i = 0; i < 1_000; i++) {
    const later = cron.nextRun(from)
    if (later === null || later.getTime() > closes) break
    closes = Math.max(closes, later.getTime() + length)
    from = later
  }
  return { opens, closes: new Date(closes) }
}

export function isOpen(window: WindowSpec, at: Date): boolean {
  return windowContaining(window, at) !== null
}

/** When the window last closed at or before `at` (null while it is open or if it never opened). */
export function lastClosing(window: WindowSpec, at: Date): Date | null {
  if (isOpen(window, at)) return null
  const opens = schedule(window).previousRuns(1, new Date(at.getTime() + 1))[0]
  return opens === undefined ? null : new Date(opens.getTime() + durationMs(window))
}

/** The blackouts that apply to a key: global ones and those that list it. */
function blackoutsFor(blackouts: readonly BlackoutSpec[], keyId: string): BlackoutSpec[] {
  return blackouts.filter((b) => b.keys === undefined || b.keys.includes(keyId))
}

/** The blackout in force for `keyId` at `at` (the one that ends last, if several), or null. */
export function activeBlackout(
  blackouts: readonly BlackoutSpec[],
  keyId: string,
  at: Date,
): BlackoutSpec | null {
  const t = at.getTime()
  let found: BlackoutSpec | null = null
  for (const b of blackoutsFor(blackouts, keyId)) {
    if (Date.parse(b.from) <= t && t < Date.parse(b.to)) {
      if (found === null || Date.parse(b.to) > Date.parse(found.to)) found = b
    }
  }
  return found
}

/**
 * The first instant at or after `from` inside the window (if any) and outside every blackout of
 * the key: a later opening, or the end of a blackout while a window is open.
 */
function firstAllowed(
  window: WindowSpec | undefined,
  blackouts: readonly BlackoutSpec[],
  keyId: string,
  from: Date,
): Date | null {
  const limit = from.getTime() + SEARCH_HORIZON_MS
  let t = from
  for (let i = 0; i < 10_000 && t.getTime() <= limit; i++) {
    if (window !== undefined && !isOpen(window, t)) {
      const opening = nextOpening(window, t)
      if (opening === null) return null
      t = opening
      continue
    }
    const blackout = activeBlackout(blackouts, keyId, t)
    if (blackout === null) return t
    t = new Date(Date.parse(blackout.to))
  }
  return null
}

/** The one decision of whether a rotation of `keyId` may start at `at`: pre-flight, promote and the scheduler ask it. */
export function rotationAllowedAt(input: {
  keyId: string
  windowName?: string | undefined
  windows: Readonly<Record<string, WindowSpec>>
  blackouts: readonly BlackoutSpec[]
  at: Date
}): RotationDecision {
  const { keyId, windowName, blackouts, at } = input
  const window = windowName === undefined ? undefined : input.windows[windowName]
  if (windowName !== undefined && window === undefined) {
    const defined = Object.keys(input.windows)
    const known = defined.length === 0 ? 'none are defined' : `defined: ${defined.join(', ')}`
    return {
      allowed: false,
      reason: `key ${keyId} names change window "${windowName}", which does not exist (${known})`,
      nextAllowedAt: null,
    }
  }
  const next = firstAllowed(window, blackouts, keyId, at)
  if (next?.getTime() === at.getTime())
    return { allowed: true, closesAt: closesAt(window, blackouts, keyId, at) }
  const after = next === null ? 'none within 400 days' : iso(next)
  const blackout = activeBlackout(blackouts, keyId, at)
  if (window !== undefined && !isOpen(window, at)) {
    const opening = nextOpening(window, at)
    const opens = opening === null ? 'never' : iso(opening)
    const also = next?.getTime() === opening?.getTime() ? '' : `; next allowed ${after} (blackouts)`
    return {
      allowed: false,
      reason: `key ${keyId} may rotate only in window ${windowName} (cron "${window.cron}", ${window.duration}, ${window.timezone}): next opening ${opens}${also}`,
      nextAllowedAt: next,
    }
  }
  const scope = blackout?.keys === undefined ? 'all keys' : `keys ${blackout.keys.join(', ')}`
  return {
    allowed: false,
    reason: `key ${keyId} is in blackout '${blackout?.reason ?? '?'}' (${scope}) until ${blackout === null ? '?' : iso(new Date(blackout.to))}; next allowed ${after}`,
    nextAllowedAt: next,
  }
}

function closesAt(
  window: WindowSpec | undefined,
  blackouts: readonly BlackoutSpec[],
  keyId: string,
  at: Date,
): Date | null {
  const ends = window === undefined ? [] : [windowContaining(window, at)?.closes.getTime() ?? at.getTime()]
  for (const b of blackoutsFor(blackouts, keyId)) {
    const from = Date.parse(b.from)
    if (from > at.getTime()) ends.push(from)
  }
  return ends.length === 0 ? null : new Date(Math.min(...ends))
}

/** ISO-8601 to the second, as people read and cron expressions mean it. */
export function iso(date: Date): string {
  return date.toISOString().replace(/\.000Z$/, 'Z')
}
