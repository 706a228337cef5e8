import { setTimeout as delay } from 'node:timers/promises'
import { KeyrotorError } from '../errors.js'
import type { DependentClient, DependentTarget, Notice, ProbeAnswer } from './dependent-client.js'

export interface DeliverOptions {
  /** The phase deadline: no attempt starts after it, and one in flight is cut at it. */
  deadline: Date
  signal?: AbortSignal
  /** First pause between attempts (default 50 ms); doubles up to maxDelayMs (default 2000 ms). */
  minDelayMs?: number
  maxDelayMs?: number
}

export interface ProbeUntilOptions {
  deadline: Date
  signal?: AbortSignal
  /** What the predicate waits for, in words, for the error message: e.g. "accepts v4". */
  wanted?: string
  /** Every valid answer, in order; e.g. to record the dependent's progress. */
  onAnswer?(answer: ProbeAnswer): void
  /** Every failed probe; the polling goes on. */
  onError?(error: unknown): void
  minDelayMs?: number
  maxDelayMs?: number
}

/** The time left for the last attempt before a deadline; with less, the loop gives up. */
const LAST_ATTEMPT_MS = 100

/**
 * Delivers one notice, retrying with capped exponential backoff until a 2xx or the deadline.
 * A non-retryable error (e.g. an unset secret) is thrown at once: retrying cannot fix it.
 */
export async function deliverUntil(
  client: DependentClient,
  target: DependentTarget,
  notice: Notice,
  options: DeliverOptions,
): Promise<void> {
  let lastError: unknown
  for (let attempt = 0; ; attempt++) {
    try {
      await withDeadline(options, (signal) => client.notify(target, notice, signal))
      return
    } catch (error) {
      if (options.signal?.aborted === true) throw options.signal.reason
      if (error instanceof KeyrotorError && !error.retryable) throw error
      lastError = keepCause(error, lastError)
    }
    const pause = backoff(attempt, options.minDelayMs ?? 50, options.maxDelayMs ?? 2000)
    const left = options.deadline.getTime() - Date.now()
    if (left <= LAST_ATTEMPT_MS) {
      throw new KeyrotorError(
        'TIMEOUT',
        `notice ${notice.event} v${notice.version} was not delivered to dependent "${target.name}" ` +
          `by ${options.deadline.toISOString()}; last error: ${messageOf(lastError)}`,
        {
          details: { dependent: target.name, event: notice.event, version: notice.version },
          cause: lastError,
        },
      )
    }
    // up to the deadline: a pause that would cross it is shortened to leave one last attempt
    await sleep(Math.min(pause, left - LAST_ATTEMPT_MS), options.signal)
  }
}

/**
 * Polls a dependent until `predicate` holds for its answer, up to the deadline. Past it, the
 * dependent was not ready: DEPENDENCY_NOT_READY (the playbook's dependency readiness failure,
 * with its alert), naming the dependent, its last answer or error and what was wanted. Whether
 * it answered at all is in the message; a dependent that answers but never accepts is as
 * not-ready as one that never answers, not a timeout of keyrotor's.
 */
export async function probeUntil(
  client: DependentClient,
  target: DependentTarget,
  predicate: (answer: ProbeAnswer) => boolean,
  options: ProbeUntilOptions,
): Promise<ProbeAnswer> {
  let lastAnswer: ProbeAnswer | undefined
  let lastError: unknown
  for (let attempt = 0; ; attempt++) {
    try {
      const answer = await withDeadline(options, (signal) => client.probe(target, signal))
      lastAnswer = answer
      lastError = undefined
      options.onAnswer?.(answer)
      if (predicate(answer)) return answer
    } catch (error) {
      if (options.signal?.aborted === true) throw options.signal.reason
      if (error instanceof KeyrotorError && !error.retryable) throw error
      lastError = keepCause(error, lastError)
      options.onError?.(error)
    }
    const pause = backoff(attempt, options.minDelayMs ?? 20, options.maxDelayMs ?? 1000)
    const left = options.deadline.getTime() - Date.now()
    if (left <= LAST_ATTEMPT_MS) throw giveUp(target, options, lastAnswer, lastError)
    await sleep(Math.min(pause, left - LAST_ATTEMPT_MS), options.signal)
  }
}

function giveUp(target: DependentTarget, options: ProbeUntilOptions, answer?: ProbeAnswer, error?: unknown) {
  const wanted = options.wanted ?? 'the awaited state'
  const by = options.deadline.toISOString()
  const details = { dependent: target.name, key: target.key, wanted, lastAnswer: answer ?? null }
  if (answer === undefined) {
    return new KeyrotorError(
      'DEPENDENCY_NOT_READY',
      `dependent "${target.name}" gave no valid probe answer by ${by} (wanted: ${wanted}); last error: ${messageOf(error)}`,
      { details, cause: error },
    )
  }
  const last = `accepts [${answer.accepts.join(', ')}], active ${answer.active ?? 'null'}`
  const stillFailing = error === undefined ? '' : `; its last probe failed: ${messageOf(error)}`
  return new KeyrotorError(
    'DEPENDENCY_NOT_READY',
    `dependent "${target.name}" was not ready by ${by}: wanted ${wanted}, last answered ${last}${stillFailing}`,
    { details, cause: error },
  )
}

/** Runs one attempt under a signal that aborts at the caller's abort or at the deadline. */
async function withDeadline<T>(
  options: { deadline: Date; signal?: AbortSignal | undefined },
  attempt: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const left = Math.max(1, options.deadline.getTime() - Date.now())
  const timer = AbortSignal.timeout(left)
  return attempt(options.signal === undefined ? timer : AbortSignal.any([options.signal, timer]))
}

/** When the deadline cuts an attempt short, the error before it says more about the dependent. */
function keepCause(error: unknown, previous: unknown): unknown {
  const cut = error instanceof DOMException && error.name === 'TimeoutError'
  if (!cut) return error
  return previous ?? new Error('the attempt was still running at the deadline')
}

function backoff(attempt: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(attempt, 20))
}

async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal })
  } catch (error) {
    // Rethrow the caller's own reason (e.g. its cancellation), not a generic AbortError.
    throw signal?.aborted === true ? signal.reason : error
  }
}

function messageOf(error: unknown): string {
  if (error === undefined) return 'none'
  return error instanceof Error ? error.message : JSON.stringify(error)
}
