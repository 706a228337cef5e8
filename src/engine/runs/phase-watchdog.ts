import { KeyrotorError } from '../../errors.js'

/** How long past its deadline a phase may take to fail on its own (its own errors say more). */
export const DEADLINE_GRACE_MS = 1_000

export interface PhaseWatchOptions {
  phase: string
  deadline: Date
  /** The worker's signal: shutdown or a lost lease. */
  parent: AbortSignal
  /** Whether an operator asked to cancel the run (read from the store every `pollMs`). */
  cancelRequested(): Promise<boolean>
  pollMs: number
  graceMs?: number
}

export interface PhaseWatch {
  /** Aborts at the deadline, at a cancel, or with the parent: every call of the phase listens on it. */
  readonly signal: AbortSignal
  /** Settles with `work`, or rejects at the watch's abort even if `work` never settles. */
  guard<T>(work: Promise<T>): Promise<T>
  stop(): void
}

/** The reason a phase was stopped because an operator cancelled its run. */
export class PhaseCancelled extends Error {
  override readonly name = 'PhaseCancelled'
}

/**
 * Enforces a phase's deadline from outside the phase: the promise the executor awaits is raced
 * against a timer, so a call that never settles (a provider hung in a native call, a dependent
 * that trickles its answer, a bug) cannot hold the run, its lease and its key past the deadline.
 * The phase's own calls are aborted through `signal`; whatever still runs after is cut off from
 * the run (its writes are refused, see the executor's context).
 */
export function watchPhase(options: PhaseWatchOptions): PhaseWatch {
  const controller = new AbortController()
  const abort = (reason: unknown) => {
    if (!controller.signal.aborted) controller.abort(reason)
  }
  const onParent = () => abort(options.parent.reason)
  if (options.parent.aborted) onParent()
  else options.parent.addEventListener('abort', onParent, { once: true })
  const left = options.deadline.getTime() - Date.now() + (options.graceMs ?? DEADLINE_GRACE_MS)
  const timer = setTimeout(
    () =>
      abort(
        new KeyrotorError(
          'TIMEOUT',
          `${options.phase} did not end by its deadline ${options.deadline.toISOString()}: stopped by the phase watchdog`,
        ),
      ),
    Math.max(0, left),
  )
  const poll = setInterval(() => {
    options.cancelRequested().then(
      (requested) => {
        if (requested) abort(new PhaseCancelled(`cancel requested during ${options.phase}`))
      },
      () => undefined, // a store hiccup: look again at the next tick
    )
  }, options.pollMs)

  return {
    signal: controller.signal,
    guard<T>(work: Promise<T>): Promise<T> {
      const stopped = new Promise<never>((_, reject) => {
        const onAbort = () => reject(controller.signal.reason as Error)
        if (controller.signal.aborted) onAbort()
        else controller.signal.addEventListener('abort', onAbort, { once: true })
      })
      // the work's late rejection, after the watchdog won, must not be an unhandled rejection
      work.catch(() => undefined)
      return Promise.race([work, stopped])
    },
    stop() {
      clearTimeout(timer)
      clearInterval(poll)
      options.parent.removeEventListener('abort', onParent)
    },
  }
}
