import { isPastPointOfNoReturn, phasesOf, type Phase } from '../../domain/phases.js'
import { transitionRun, type RunState } from '../../domain/runs.js'
import { KeyrotorError } from '../../errors.js'
import { appendEvents } from '../../store/events-repository.js'
import { activeVersionOf, frozenSince } from '../../store/keys-repository.js'
import { findActiveRunForKey, findRun } from '../../store/runs-repository.js'
import type { RunRow, RunUpdate } from '../../store/tables.js'
import { violates } from '../../store/unique-violation.js'
import { hasPassedVerificationSince } from '../../store/verifications-repository.js'
import type { EngineDeps } from '../engine-deps.js'
import { readHalt } from '../../store/halt-repository.js'
import { runEvent } from './journal.js'
import { terminal } from './run-fields.js'

export type RunControlDeps = Pick<EngineDeps, 'db' | 'audit' | 'now'> & {
  /** Tells the worker a run was queued. */
  wake(): void
}

export interface CancelOutcome {
  run: RunRow
  /** `cancelled`: ended now; `requested`: the executor stops it at its next phase boundary. */
  outcome: 'cancelled' | 'requested'
}

/**
 * The failure playbook's operator actions on one run: retry a failed run forward once a verify
 * has passed since it failed (DESIGN §4.6), and cancel a run before its point of no return.
 * Every change is a compare-and-set on the state read, so a racing worker or operator wins
 * cleanly instead of being overwritten.
 */
export function createRunControl(deps: RunControlDeps) {
  const { db } = deps

  async function requireRun(id: string): Promise<RunRow> {
    const run = await findRun(db, id)
    if (run === undefined) throw new KeyrotorError('NOT_FOUND', `unknown run ${id}`)
    return run
  }

  async function retry(id: string, actor: string): Promise<RunRow> {
    const run = await requireRun(id)
    if (run.state === 'halted') {
      throw new KeyrotorError('CONFLICT', `run ${id} is halted: halted runs are repaired by forward-correct`)
    }
    if (run.state !== 'failed') {
      throw new KeyrotorError('CONFLICT', `run ${id} is ${run.state}; only a failed run can be retried`)
    }
    const halt = await readHalt(db)
    if (halt.engaged)
      throw new KeyrotorError('HALTED', `the global halt is engaged since ${halt.since}: ${halt.reason}`)
    await refusalAudited(actor, run, () => requireVerifiedSince(run))
    await requirePlanStillHolds(run)
    const failure = { class: run.failure_class, phase: run.failure_phase, message: run.failure_message }
    const phase = resumePhase(run)
    const patch: RunUpdate = {
      state: transitionRun('failed', 'queued'),
      phase,
      phase_status: 'pending',
      active_key: run.key_id,
      failure_class: null,
      failure_phase: null,
      failure_message: null,
      finished_at: null,
      // a cancel asked for before the failure is stale: the retry is the newer decision
      cancel_requested_at: null,
    }
    const now = deps.now()
    try {
      await db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('runs')
          .set(patch)
          .where('id', '=', id)
          .where('state', '=', 'failed')
          .executeTakeFirst()
        if (result.numUpdatedRows !== 1n) throw new KeyrotorError('CONFLICT', `run ${id} changed meanwhile`)
        const message = `retried by ${actor} from ${phase} after ${failure.class ?? '?'} in ${failure.phase ?? '?'}: ${failure.message ?? ''}`
        await appendEvents(trx, [
          runEvent(run, now, 'run.retried', phase, message, { previousFailure: failure }),
        ])
        await deps.audit.append(trx, {
          actor,
          action: 'run.retried',
          target: run.key_id,
          correlationId: run.correlation_id,
          details: { runId: id, phase, previousFailure: failure },
        })
      })
    } catch (error) {
      if (!violates(error, 'runs', 'active_key')) throw error
      const holder = await findActiveRunForKey(db, run.key_id)
      throw new KeyrotorError(
        'CONCURRENT_ROTATION',
        `key ${run.key_id} already has run ${holder?.id ?? '?'} in progress; run ${id} was not retried`,
        { details: { runId: holder?.id } },
      )
    }
    deps.wake()
    return { ...run, ...patch }
  }

  /**
   * The versions the run planned must still be where it left them: a rotation that stopped
   * before promote resumes only while its from-version is still the active one, one that stopped
   * after promote only while its to-version is. Otherwise another run moved the key on, and this
   * one would act on a stale plan. A revoke re-checks everything in its preflight.
   */
  async function requirePlanStillHolds(run: RunRow): Promise<void> {
    if (run.kind === 'revoke') return
    const kind = run.kind
    const failedAt = run.failure_phase ?? run.phase
    const want = isPastPointOfNoReturn(kind, failedAt) ? run.to_version : run.from_version
    if (want === null) return
    const active = await activeVersionOf(db, run.key_id)
    if (active !== want) {
      throw new KeyrotorError(
        'CONFLICT',
        `run ${run.id} planned around v${want} active, but key ${run.key_id} has v${active ?? 'none'} active now; start a new run instead`,
      )
    }
  }

  /**
   * A retry refused for want of a verify is recorded: the attempt is a person's decision that an
   * auditor (and `drill check`) must see, even though nothing changed.
   */
  async function refusalAudited(actor: string, run: RunRow, requirement: () => Promise<void>): Promise<void> {
    try {
      await requirement()
    } catch (error) {
      if (!(error instanceof KeyrotorError) || error.code !== 'NOT_VERIFIED') throw error
      await db.transaction().execute((trx) =>
        deps.audit.append(trx, {
          actor,
          action: 'run.retry_refused',
          target: run.key_id,
          correlationId: run.correlation_id,
          details: { runId: run.id, code: error.code, message: error.message },
        }),
      )
      throw error
    }
  }

  /** DESIGN §4.6: a passed verify of this run recorded after it failed, and the key not frozen since. */
  async function requireVerifiedSince(run: RunRow): Promise<void> {
    const since = run.finished_at ?? run.created_at
    if (!(await hasPassedVerificationSince(db, run.id, since))) {
      throw new KeyrotorError(
        'NOT_VERIFIED',
        `run ${run.id} failed at ${since} and no verify has passed since: run \`keyrotor runs verify ${run.id}\` first`,
      )
    }
    const frozen = await frozenSince(db, run.key_id)
    if (frozen !== null) {
      throw new KeyrotorError(
        'NOT_VERIFIED',
        `key ${run.key_id} is frozen since ${frozen.at}: ${frozen.reason}; run \`keyrotor runs verify ${run.id}\``,
      )
    }
  }

  async function cancel(id: string, actor: string): Promise<CancelOutcome> {
    const run = await requireRun(id)
    const state = run.state
    const kind = run.kind
    const now = deps.now()
    if (state === 'queued' || state === 'awaiting_approval') {
      const patch = { ...terminal(transitionRun(state, 'cancelled'), now) }
      const message = `cancelled by ${actor} while ${state}`
      const done = await change(run, actor, patch, 'run.cancelled', message, { state })
      // claimed (or decided) between our read and our write: decide again on what it is now
      return done ? { run: await requireRun(id), outcome: 'cancelled' } : cancel(id, actor)
    }
    if (state !== 'running') throw new KeyrotorError('CONFLICT', `run ${id} is ${state}; it has ended`)
    if (isPastPointOfNoReturn(kind, run.phase)) throw pastPointOfNoReturn(run)
    if (run.cancel_requested_at !== null) return { run, outcome: 'requested' }
    const before = phasesOf(kind).filter((p) => !isPastPointOfNoReturn(kind, p))
    const done = await change(
      run,
      actor,
      { cancel_requested_at: now.toISOString() },
      'run.cancel_requested',
      `cancel requested by ${actor} in ${run.phase}; the run stops at its next phase boundary`,
      { state: 'running', phases: before },
    )
    return done ? { run: await requireRun(id), outcome: 'requested' } : cancel(id, actor)
  }

  /** One compare-and-set on the run with its journal entry and audit record; false if it lost. */
  async function change(
    run: RunRow,
    actor: string,
    patch: RunUpdate,
    type: string,
    message: string,
    expected: { state: RunState; phases?: readonly Phase[] },
  ): Promise<boolean> {
    return db.transaction().execute(async (trx) => {
      let query = trx
        .updateTable('runs')
        .set(patch)
        .where('id', '=', run.id)
        .where('state', '=', expected.state)
      if (expected.phases !== undefined) query = query.where('phase', 'in', expected.phases)
      const result = await query.executeTakeFirst()
      if (result.numUpdatedRows !== 1n) return false
      await appendEvents(trx, [runEvent(run, deps.now(), type, run.phase, message)])
      await deps.audit.append(trx, {
        actor,
        action: type,
        target: run.key_id,
        correlationId: run.correlation_id,
        details: { runId: run.id, state: run.state, phase: run.phase },
      })
      return true
    })
  }

  return { retry, cancel }
}

export type RunControl = ReturnType<typeof createRunControl>

/**
 * Where a retried run resumes: the failed phase (phases check before they act). A revoke run
 * starts over at its preflight: its failure un-published the version (revoke_started_at cleared),
 * and only the preflight publishes the withdrawal again, which JWKS verifiers need to let go.
 */
function resumePhase(run: RunRow): Phase {
  if (run.kind === 'revoke') return 'preflight'
  return run.failure_phase ?? run.phase
}

function pastPointOfNoReturn(run: RunRow): KeyrotorError {
  const why =
    run.kind === 'revoke'
      ? 'a revoke run can only be cancelled before its revoke phase'
      : 'a run can only be cancelled before promote: it has moved the alias'
  return new KeyrotorError('CONFLICT', `run ${run.id} is in ${run.phase}: ${why}`)
}
