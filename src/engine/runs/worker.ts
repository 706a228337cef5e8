import { setMaxListeners } from 'node:events'
import { isKeyrotorError } from '../../errors.js'
import type { DialectName } from '../../store/dialect.js'
import { isStoreFailure } from '../../store/store-errors.js'
import { claimRuns } from '../../store/run-claims.js'
import { renewLease } from '../../store/runs-repository.js'
import type { RunRow } from '../../store/tables.js'
import type { EngineDeps } from '../engine-deps.js'
import type { RunExecutor } from './run-executor.js'

export interface WorkerOptions {
  /** Unique per process: who holds a lease. */
  workerId: string
  dialect: DialectName
  leaseMs: number
  /** How many runs this worker drives at once (their phases mostly wait on dependents). */
  concurrency: number
  /** How often an idle worker looks for work when nobody wakes it. */
  pollMs: number
}

/**
 * Claims runnable runs and drives them. A claim takes a lease with a fresh fencing token; a
 * heartbeat renews it while the run goes on, and a refused renewal (someone else holds the run
 * now) aborts the phase in flight.
 */
export function createWorker(
  deps: Pick<EngineDeps, 'db' | 'transact' | 'log' | 'now'>,
  executor: Pick<RunExecutor, 'execute'>,
  options: WorkerOptions,
) {
  const inFlight = new Map<string, Promise<void>>()
  const controller = new AbortController()
  let wakeUp: (() => void) | undefined
  // a wake that came while a claim was under way: that claim may have read the runs before the
  // new run committed (they can share one group commit), so the loop claims again before it sleeps
  let woken = false
  let loop: Promise<void> | undefined

  async function run(): Promise<void> {
    while (!controller.signal.aborted) {
      let claimed: RunRow[] = []
      woken = false
      // every free slot in one claim: one run per claim started at most one run per commit
      const free = options.concurrency - inFlight.size
      if (free > 0) {
        claimed = await claimRuns(
          deps.transact,
          options.dialect,
          options.workerId,
          deps.now(),
          options.leaseMs,
          free,
        ).catch((error: unknown) => {
          deps.log.error({ err: error }, 'claiming runs failed')
          return []
        })
      }
      if (claimed.length > 0) {
        for (const run of claimed) start(run)
        continue
      }
      if (woken) continue
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.pollMs)
        wakeUp = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      wakeUp = undefined
    }
  }

  function start(run: RunRow): void {
    const phaseAbort = new AbortController()
    // every dependent call of the run listens on it: many listeners are expected, not a leak
    setMaxListeners(0, phaseAbort.signal)
    const stop = () => phaseAbort.abort(new Error('worker stopping'))
    controller.signal.addEventListener('abort', stop, { once: true })
    const heartbeat = setInterval(
      () => {
        const expires = new Date(deps.now().getTime() + options.leaseMs)
        renewLease(deps.db, run.id, run.fencing_token, expires).catch((error: unknown) => {
          if (isKeyrotorError(error, 'STALE_LEASE')) phaseAbort.abort(error)
        })
      },
      Math.max(50, Math.floor(options.leaseMs / 3)),
    )
    const task = executor
      .execute(run, phaseAbort.signal)
      .then(() => undefined)
      .catch((error: unknown) => {
        // a stale lease means another worker owns the run now: nothing of ours may be written
        // a shutdown is expected; a lost lease is an anomaly to look at; anything else an error
        // a store that could not record the run's progress (failover, full disk) is the
        // infrastructure's trouble, not the run's: it resumes, in doubt, once its lease expires;
        // logged below warn so that the run's validation does not count it as its own anomaly
        const storeDown = isStoreFailure(error)
        const level =
          (phaseAbort.signal.aborted && controller.signal.aborted) || storeDown
            ? 'info'
            : isKeyrotorError(error, 'STALE_LEASE')
              ? 'warn'
              : 'error'
        deps.log[level](
          { correlationId: run.correlation_id, runId: run.id, key: run.key_id, phase: run.phase, err: error },
          storeDown
            ? 'run interrupted: the store could not record its progress; it resumes after its lease'
            : 'run stopped without an outcome',
        )
      })
      .finally(() => {
        clearInterval(heartbeat)
        controller.signal.removeEventListener('abort', stop)
        inFlight.delete(run.id)
        woken = true
        wakeUp?.()
      })
    inFlight.set(run.id, task)
  }

  return {
    start(): void {
      loop ??= run()
    },
    /** Look for work now (a run was just queued). */
    wake(): void {
      woken = true
      wakeUp?.()
    },
    /** Stops claiming, aborts phases in flight (their leases expire; another start resumes them). */
    async stop(): Promise<void> {
      controller.abort()
      wakeUp?.()
      await loop
      await Promise.allSettled([...inFlight.values()])
    },
    /** Resolves once no run is in flight and none is claimable (tests, benchmark, demo). */
    inFlightCount: () => inFlight.size,
  }
}

export type Worker = ReturnType<typeof createWorker>
