import type { Transaction } from 'kysely'
import { isPastPointOfNoReturn, nextPhase, type Phase } from '../../domain/phases.js'
import { isKeyrotorError, KeyrotorError } from '../../errors.js'
import { appendEvents, type NewRunEvent } from '../../store/events-repository.js'
import { recordDependent, type DependentObservation } from '../../store/keys-repository.js'
import { cancelRequestedAt, updateRunFenced } from '../../store/runs-repository.js'
import { isStoreFailure } from '../../store/store-errors.js'
import type { Database, RunRow, RunUpdate } from '../../store/tables.js'
import { ENGINE_ACTOR } from '../../domain/actors.js'
import type { EngineDeps } from '../engine-deps.js'
import { runEvent } from './journal.js'
import { loadManagedKey } from '../keys/managed-key.js'
import type { PhaseContext, PhaseOutcome } from './phase-context.js'
import { createPhaseContext, type PhaseJournal } from './phase-context-builder.js'
import { phaseGate, type Gate } from './phase-gate.js'
import { PhaseCancelled, watchPhase } from './phase-watchdog.js'
import { phaseHandler, phaseSettler } from '../phases/index.js'
import { failRun } from './run-failure.js'
import { elapsedSeconds, terminal } from './run-fields.js'
import { withVersionsAudited } from '../verify/version-audit.js'

/** How often a running phase looks whether its run was cancelled. */
const CANCEL_POLL_MS = 1_000

/** The alerts a failed run raises; a concurrent_rotation alert names the run but is about another attempt. */
const FAILURE_ALERTS = [
  'rotation_failed',
  'rotation_timeout',
  'dependency_not_ready',
  'validation_failed',
] as const

/**
 * Drives one claimed run through its phases. A phase's intent is recorded before it acts and its
 * outcome after, in one transaction with the state it changes and the next phase's intent (which
 * checks the halt and cancel requests in that same transaction); every write is fenced by the
 * claim's token. A phase found started but not finished (its worker died) is in doubt: it is
 * settled against the provider before it acts again.
 */
export function createRunExecutor(deps: EngineDeps) {
  const { db } = deps
  const crash = (run: RunRow, phase: string, point: string) => deps.crash?.(`${run.kind}/${phase}:${point}`)

  async function execute(claimed: RunRow, signal: AbortSignal): Promise<RunRow> {
    let run = claimed
    const key = await loadManagedKey(db, run.key_id)
    const kind = run.kind
    let inDoubt = run.phase_status === 'started'
    if (!inDoubt) {
      const first = run.phase_status === 'done' ? nextPhase(kind, run.phase) : run.phase
      if (first === null)
        throw new KeyrotorError('INTERNAL', `run ${run.id} finished its phases but is ${run.state}`)
      const begun = await transition(run, first, {}, [], [])
      if (!begun.gate.open) return begun.run
      run = begun.run
    }
    for (;;) {
      const phase = run.phase
      crash(run, phase, 'before')
      const journal: PhaseJournal = { events: [], observations: [] }
      const started = deps.now().getTime()
      const watch = watchPhase({
        phase,
        deadline: new Date(started + key.phaseTimeoutMs),
        parent: signal,
        cancelRequested: () => cancelRequested(run, phase),
        pollMs: CANCEL_POLL_MS,
      })
      const ctx = createPhaseContext(deps, {
        run,
        phase,
        key,
        journal,
        signal: watch.signal,
        deadline: new Date(started + key.phaseTimeoutMs),
        crashPoint: (point) => crash(run, phase, point),
      })
      let outcome: PhaseOutcome
      try {
        const act = async () => {
          if (inDoubt) await watch.guard(settle(ctx, journal))
          return watch.guard(phaseHandler(kind, phase)(ctx))
        }
        // a span per phase: provider calls, probes and notices inside it become its children
        outcome = await (deps.trace?.span(`phase ${phase}`, { 'keyrotor.phase': phase }, act) ?? act())
      } catch (error) {
        // stopped from outside (shutdown, lost lease): no outcome; the run resumes elsewhere
        if (signal.aborted) throw signal.reason
        if (error instanceof KeyrotorError && error.code === 'STALE_LEASE') throw error
        // the store could not record the phase's progress: no outcome either; the run resumes
        // (in doubt, settled against the provider) once its lease expires and the store serves
        if (isStoreFailure(error)) throw error
        if (error instanceof PhaseCancelled) return cancelInPhase(run, phase, journal)
        const partial = isKeyrotorError(error, 'PARTIAL_EXECUTION')
        return failRun(deps, run, phase, error, journal.events, journal.observations, { partial })
      } finally {
        watch.stop()
      }
      inDoubt = false
      deps.metrics?.phaseFinished(phase, (deps.now().getTime() - started) / 1000)
      const next = outcome.fail === undefined ? nextPhase(kind, phase) : null
      const completed = event(run, 'phase.completed', phase, outcome.message)
      const moved = await transition(run, next, outcome, [...journal.events, completed], journal.observations)
      run = moved.run
      deps.versionsChanged?.(run.key_id)
      deps.log.info({ ...logFields(run), phase }, `${phase} completed: ${outcome.message}`)
      crash(run, phase, 'after-commit')
      if (outcome.fail !== undefined) return failRun(deps, run, phase, outcome.fail, [], [])
      if (next === null) {
        deps.metrics?.runFinished(kind, 'succeeded', elapsedSeconds(run, deps.now()))
        deps.log.info({ ...logFields(run), phase, kind }, 'run succeeded')
        return run
      }
      if (!moved.gate.open) return run
    }
  }

  /**
   * One fenced transaction that ends the current phase (its outcome, journal and observations)
   * and starts `next` if the gate lets it: or pauses the run (halt), cancels it, or, with no next
   * phase, records its success.
   */
  async function transition(
    run: RunRow,
    next: Phase | null,
    outcome: Partial<PhaseOutcome>,
    events: NewRunEvent[],
    observations: DependentObservation[],
  ): Promise<{ run: RunRow; gate: Gate }> {
    const kind = run.kind
    let gate: Gate = { open: true }
    let patch: RunUpdate = {}
    await deps.transact(async (trx) => {
      if (outcome.commit !== undefined) await withVersionsAudited(trx, deps.audit, run, outcome.commit)
      const now = deps.now()
      const after: NewRunEvent[] = []
      if (next === null) {
        patch = { ...outcome.runPatch, phase_status: 'done' }
        if (outcome.fail === undefined) {
          patch = { ...patch, ...terminal('succeeded', now) }
          after.push(event(run, 'run.succeeded', run.phase, `${kind} of ${run.key_id} succeeded`))
          await audit(trx, run, 'run.succeeded')
          // a retried run that made it: the alerts of its failure are cleared with its success
          await deps.alerts.resolve?.({ runId: run.id, types: FAILURE_ALERTS }, trx)
        }
      } else {
        // a run resumed after a pause or a wait ('done') stands at the boundary after run.phase too
        const previous = run.phase_status === 'pending' ? null : run.phase
        gate = await phaseGate(trx, run, next, previous, now)
        if (gate.open) {
          patch = { ...outcome.runPatch, phase: next, phase_status: 'started' }
          after.push(event(run, 'phase.started', next, `${next} started`))
        } else if (gate.why === 'halted') {
          // paused before `next`: the lease is given back; any instance resumes it after the release
          patch = {
            ...outcome.runPatch,
            phase_status: 'done',
            lease_owner: null,
            lease_expires_at: now.toISOString(),
          }
          after.push(event(run, 'run.paused', next, `paused before ${next}: ${gate.detail}`))
        } else if (gate.why === 'window' || gate.why === 'published') {
          // outside its change window, or its new version not yet published long enough: given
          // back like a pause, and not claimable before `until`
          patch = {
            ...outcome.runPatch,
            phase_status: 'done',
            lease_owner: null,
            lease_expires_at: now.toISOString(),
            not_before: gate.until.toISOString(),
          }
          after.push(event(run, 'run.waiting', next, `waits before ${next}: ${gate.detail}`))
        } else {
          patch = { ...outcome.runPatch, phase_status: 'done', ...terminal('cancelled', now) }
          after.push(event(run, 'run.cancelled', next, `cancelled before ${next}: ${gate.detail}`))
          await audit(trx, run, 'run.cancelled')
        }
      }
      await updateRunFenced(trx, run.id, run.fencing_token, patch)
      await appendEvents(trx, [...events, ...after])
      for (const o of observations) await recordDependent(trx, o)
    })
    return { run: { ...run, ...patch }, gate }
  }

  /** A cancel asked for while a phase runs before the point of no return stops that phase. */
  async function cancelRequested(run: RunRow, phase: Phase): Promise<boolean> {
    if (isPastPointOfNoReturn(run.kind, phase)) return false
    return (await cancelRequestedAt(db, run.id)) !== null
  }

  /**
   * Ends a run whose phase was stopped by a cancel: as a failure in that phase would leave it
   * (the phases before promote check before they act), but cancelled, as the operator asked.
   */
  async function cancelInPhase(run: RunRow, phase: Phase, journal: PhaseJournal): Promise<RunRow> {
    const now = deps.now()
    const patch: RunUpdate = { phase_status: 'done', ...terminal('cancelled', now) }
    await deps.transact(async (trx) => {
      await updateRunFenced(trx, run.id, run.fencing_token, patch)
      await appendEvents(trx, [
        ...journal.events,
        event(run, 'run.cancelled', phase, `cancelled during ${phase}: the phase was stopped`),
      ])
      for (const o of journal.observations) await recordDependent(trx, o)
      await audit(trx, run, 'run.cancelled')
    })
    deps.metrics?.runFinished(run.kind, 'cancelled', elapsedSeconds(run, now))
    deps.log.info({ ...logFields(run), phase }, `run cancelled during ${phase}`)
    return { ...run, ...patch }
  }

  /** Reads the provider to decide what an interrupted phase left behind (DESIGN §4.4). */
  async function settle(ctx: PhaseContext, journal: PhaseJournal): Promise<void> {
    const settler = phaseSettler(ctx.run.kind, ctx.phase)
    const verdict = settler === undefined ? 'no effect to settle' : await settler(ctx)
    journal.events.push(
      event(ctx.run, 'phase.in_doubt', ctx.phase, `resumed after an interruption: ${verdict}`),
    )
  }

  async function audit(trx: Transaction<Database>, run: RunRow, action: string): Promise<void> {
    await deps.audit.append(trx, {
      actor: ENGINE_ACTOR,
      action,
      target: run.key_id,
      correlationId: run.correlation_id,
      details: { runId: run.id, kind: run.kind, fromVersion: run.from_version, toVersion: run.to_version },
    })
  }

  function event(
    run: RunRow,
    type: string,
    phase: string | null,
    message: string,
    data?: Record<string, unknown>,
  ) {
    return runEvent(run, deps.now(), type, phase, message, data)
  }

  return { execute }
}

export type RunExecutor = ReturnType<typeof createRunExecutor>

/**
 * The fields every engine log line about a run carries, so a log search finds its whole story. The
 * engine is the actor of its own lines (docs/timeline.md); the requester stays on the run.
 */
export function logFields(run: RunRow): Record<string, unknown> {
  return {
    correlationId: run.correlation_id,
    runId: run.id,
    key: run.key_id,
    actor: ENGINE_ACTOR,
    requestedBy: run.requested_by,
  }
}
