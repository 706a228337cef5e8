import type { Phase } from '../../domain/phases.js'
import { KeyrotorError } from '../../errors.js'
import { appendEvents, type NewRunEvent } from '../../store/events-repository.js'
import { recordDependent, type DependentObservation } from '../../store/keys-repository.js'
import { updateRunFenced } from '../../store/runs-repository.js'
import type { RunRow } from '../../store/tables.js'
import type { EngineDeps } from '../engine-deps.js'
import type { ManagedKey } from '../keys/managed-key.js'
import { withVersionsAudited } from '../verify/version-audit.js'
import { runEvent } from './journal.js'
import type { PhaseContext } from './phase-context.js'

/** What the journal of one phase collects until its next commit. */
export interface PhaseJournal {
  events: NewRunEvent[]
  observations: DependentObservation[]
}

/**
 * The context one phase of a claimed run acts through: its notes and observations collect in
 * `journal` until the executor commits them with the phase's outcome; a checkpoint commits them
 * earlier, fenced by the claim's token like every run write.
 */
export function createPhaseContext(
  deps: EngineDeps,
  at: {
    run: RunRow
    phase: Phase
    key: ManagedKey
    journal: PhaseJournal
    signal: AbortSignal
    deadline: Date
    crashPoint: (point: string) => void
  },
): PhaseContext {
  const { db } = deps
  const { run, phase, key, journal, signal } = at
  const event = (type: string, message: string, data?: Record<string, unknown>) =>
    runEvent(run, deps.now(), type, phase, message, data)
  return {
    run,
    phase,
    key,
    provider: deps.providers.get(key.provider),
    ref: { keyId: key.id, algorithm: key.algorithm },
    dependents: deps.dependents,
    db,
    deadline: at.deadline,
    signal,
    now: deps.now,
    note: (type, message, data) => journal.events.push(event(type, message, data)),
    observe: (o) => journal.observations.push({ ...o, keyId: key.id, at: deps.now().toISOString() }),
    crashPoint: at.crashPoint,
    loggedProblems: (correlationId, since) => deps.loggedProblems?.(correlationId, since) ?? [],
    async assertClaim() {
      if (signal.aborted) throw signal.reason
      const row = await db
        .selectFrom('runs')
        .select('fencing_token')
        .where('id', '=', run.id)
        .executeTakeFirst()
      if (row?.fencing_token !== run.fencing_token) {
        throw new KeyrotorError(
          'STALE_LEASE',
          `run ${run.id}: another worker holds it now (token ${row?.fencing_token ?? '?'})`,
        )
      }
    },
    async checkpoint(message, writeState) {
      // a phase the watchdog stopped may still be running: it no longer writes for the run
      if (signal.aborted) throw signal.reason
      const events = [...journal.events.splice(0), event('phase.checkpoint', message)]
      const observations = journal.observations.splice(0)
      await deps.transact(async (trx) => {
        await updateRunFenced(trx, run.id, run.fencing_token, {})
        await withVersionsAudited(trx, deps.audit, run, writeState)
        await appendEvents(trx, events)
        for (const o of observations) await recordDependent(trx, o)
      })
      at.crashPoint('after-checkpoint')
    },
  }
}
