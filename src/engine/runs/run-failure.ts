import type { Kysely } from 'kysely'
import { alertTypeOfFailure, type AlertType } from '../../domain/alerts.js'
import { isPartialExecution, type Phase } from '../../domain/phases.js'
import { failureClassOf, type FailureClass } from '../../errors.js'
import { appendEvents, type NewRunEvent } from '../../store/events-repository.js'
import { recordDependent, type DependentObservation } from '../../store/keys-repository.js'
import { updateRunFenced } from '../../store/runs-repository.js'
import type { Database, RunRow, RunUpdate } from '../../store/tables.js'
import { messageOf } from '../keys/dependent-ops.js'
import { ENGINE_ACTOR } from '../../domain/actors.js'
import type { EngineDeps } from '../engine-deps.js'
import { engageHalt } from '../../store/halt-repository.js'
import { runEvent } from './journal.js'
import { elapsedSeconds, terminal } from './run-fields.js'

/**
 * Ends a run that a phase could not finish, in one transaction: its failure class and phase,
 * the journal, an alert, an audit record. A run that stops after the alias moved and before every
 * dependent followed (promote, confirm) is partial execution: it is halted and so is everything
 * else (DESIGN §4.7).
 */
export async function failRun(
  deps: EngineDeps,
  run: RunRow,
  phase: Phase,
  error: unknown,
  events: NewRunEvent[],
  observations: DependentObservation[],
  options: { partial?: boolean } = {},
): Promise<RunRow> {
  const kind = run.kind
  const failureClass = options.partial === true ? 'state_inconsistency' : failureClassOf(error)
  const message = messageOf(error)
  const partial = options.partial === true || isPartialExecution(kind, phase)
  const now = deps.now()
  const state = partial ? 'halted' : 'failed'
  const patch: RunUpdate = {
    ...terminal(state, now),
    failure_class: failureClass,
    failure_phase: phase,
    failure_message: message,
  }
  const ids = { runId: run.id, key: run.key_id, correlationId: run.correlation_id }
  const logged = { ...ids, actor: ENGINE_ACTOR, requestedBy: run.requested_by }
  await deps.transact(async (trx) => {
    await updateRunFenced(trx, run.id, run.fencing_token, patch)
    await appendEvents(trx, [
      ...events,
      runEvent(run, now, 'phase.failed', phase, `${phase} failed (${failureClass}): ${message}`),
      runEvent(
        run,
        now,
        partial ? 'run.halted' : 'run.failed',
        phase,
        `${kind} of ${run.key_id} ${state} in ${phase}`,
      ),
    ])
    for (const o of observations) await recordDependent(trx, o)
    if (kind === 'revoke' && run.from_version !== null) {
      // nothing was revoked: the version is published again and waits for a person
      await trx
        .updateTable('key_versions')
        .set({ revoke_started_at: null, revoke_due_at: null })
        .where('key_id', '=', run.key_id)
        .where('version', '=', run.from_version)
        .where('state', '=', 'retiring')
        .execute()
    }
    if (partial) {
      const reason = `partial execution: run ${run.id} on ${run.key_id} stopped in ${phase}`
      await engageHalt(trx, ENGINE_ACTOR, reason, now.toISOString())
      await deps.alerts.raise(trx, {
        ...ids,
        type: 'partial_execution',
        severity: 'critical',
        message: `${reason}: ${message}. All rotations are halted; follow docs/runbooks/partial-execution.md`,
      })
      await deps.alerts.raise(trx, { ...ids, type: 'halt_engaged', severity: 'critical', message: reason })
      await deps.incidents?.open(trx, {
        severity: 'critical',
        title: `Partial execution of ${kind} on ${run.key_id}`,
        summary: `${reason}: ${message}. The run is preserved; all key state transitions are frozen until the halt is released.`,
        correlationId: run.correlation_id,
        runId: run.id,
        key: run.key_id,
        escalatedTo: ['security-lead', 'platform-lead'],
      })
    } else {
      const type = alertTypeOfFailure(failureClass, phase)
      await deps.alerts.raise(trx, {
        ...ids,
        type,
        severity: 'warning',
        message: `${kind} of ${run.key_id} failed in ${phase} (${failureClass}): ${message}`,
      })
      const escalation = await escalationOf(trx, run, type, failureClass)
      if (escalation !== undefined) {
        await deps.incidents?.open(trx, {
          ...escalation,
          summary: `${kind} of ${run.key_id} failed in ${phase} (${failureClass}): ${message}. The run is preserved; verify before any retry.`,
          correlationId: run.correlation_id,
          runId: run.id,
          key: run.key_id,
        })
      }
    }
    await deps.audit.append(trx, {
      actor: ENGINE_ACTOR,
      action: partial ? 'run.halted' : 'run.failed',
      target: run.key_id,
      correlationId: run.correlation_id,
      details: { runId: run.id, kind, phase, failureClass },
    })
  })
  deps.metrics?.runFinished(kind, state, elapsedSeconds(run, now))
  deps.log.error({ ...logged, phase, failureClass }, `run ${state}: ${message}`)
  return { ...run, ...patch }
}

/**
 * Failures that touch security or availability become incidents (seed playbook, "escalate"):
 * a security-class failure (a refused credential or permission mid-run), and a failed
 * post-rotation validation of a key that a critical dependent relies on, since that dependent
 * may be unable to decrypt or verify.
 */
async function escalationOf(
  trx: Kysely<Database>,
  run: RunRow,
  type: AlertType,
  failureClass: FailureClass,
): Promise<{ severity: 'critical' | 'high'; title: string; escalatedTo: string[] } | undefined> {
  if (failureClass === 'security') {
    return {
      severity: 'critical',
      title: `Security failure of ${run.kind} on ${run.key_id}`,
      escalatedTo: ['security-lead'],
    }
  }
  if (type !== 'validation_failed') return undefined
  const critical = await trx
    .selectFrom('dependents')
    .select('name')
    .where('key_id', '=', run.key_id)
    .where('critical', '=', 1)
    .execute()
  if (critical.length === 0) return undefined
  return {
    severity: 'high',
    title: `Post-rotation validation failed on critical key ${run.key_id} (${critical.map((d) => d.name).join(', ')})`,
    escalatedTo: ['security-lead', 'platform-lead'],
  }
}
