import type { Transaction } from 'kysely'
import { nextPhase, type Phase } from '../domain/phases.js'
import type { RunKind } from '../domain/runs.js'
import { KeyrotorError } from '../errors.js'
import { appendEvents, type NewRunEvent } from '../store/events-repository.js'
import { recordDependent, type DependentObservation } from '../store/keys-repository.js'
import { findRun, updateRunFenced } from '../store/runs-repository.js'
import type { Database, RunRow, RunUpdate } from '../store/tables.js'
import { ENGINE_ACTOR, type EngineDeps } from './engine-deps.js'
import { readHalt } from './halt.js'
import { loadManagedKey, type ManagedKey } from './managed-key.js'
import type { PhaseContext } from './phase-context.js'
import { phaseHandler } from './phases/index.js'
import { failRun } from './run-failure.js'
import { runEvent } from './journal.js'
import { elapsedSeconds, terminal } from './run-fields.js'

/** What the journal of one phase collects until its next commit. */
interface Journal {
  events: NewRunEvent[]
  observations: DependentObservation[]
}

/**
 * Drives one claimed run through its phases. Each phase's intent is recorded before it acts and
 * its outcome after, in one transaction with the state it changes and the next phase's intent,
 * every write fenced by the claim's token.
 */
export function createRunExecutor(deps: EngineDeps) {
  const { db } = deps

  async function execute(claimed: RunRow, signal: AbortSignal): Promise<RunRow> {
    let run = claimed
    const key = await loadManagedKey(db, run.key_id)
    const kind = run.kind as RunKind
    let phase = run.phase as Phase
    if (run.phase_status === 'pending') {
      run = await write(run, { phase_status: 'started' }, [
        event(run, 'phase.started', phase, `${phase} started`),
      ])
    }
    for (;;) {
      if ((await readHalt(db)).engaged) return release(run)
      const journal: Journal = { events: [], observations: [] }
      const ctx = context(run, phase, key, journal, signal)
      const started = deps.now().getTime()
      let outcome
      try {
        outcome = await phaseHandler(kind, phase)(ctx)
      } catch (error) {
        // stopped from outside (shutdown, lost lease): no outcome; the run resumes elsewhere
        if (signal.aborted) throw signal.reason
        return failRun(deps, run, phase, error, journal.events, journal.observations)
      }
      deps.metrics?.phaseFinished(phase, (deps.now().getTime() - started) / 1000)
      const next = nextPhase(kind, phase)
      const done = event(run, 'phase.completed', phase, outcome.message)
      const finishing = next === null && outcome.fail === undefined
      const patch: RunUpdate = {
        ...outcome.runPatch,
        ...(next === null
          ? { phase_status: 'done' }
          : { phase: next, phase_status: outcome.fail === undefined ? 'started' : 'done' }),
        ...(finishing ? terminal('succeeded', deps.now()) : {}),
      }
      const after = finishing
        ? [done, event(run, 'run.succeeded', phase, `${kind} of ${run.key_id} succeeded`)]
        : next !== null && outcome.fail === undefined
          ? [done, event(run, 'phase.started', next, `${next} started`)]
          : [done]
      run = await write(run, patch, [...journal.events, ...after], journal.observations, async (trx) => {
        await outcome.commit?.(trx)
        if (finishing) {
          await deps.audit.append(trx, {
            actor: ENGINE_ACTOR,
            action: `run.succeeded`,
            target: run.key_id,
            correlationId: run.correlation_id,
            details: { runId: run.id, kind, fromVersion: run.from_version, toVersion: run.to_version },
          })
        }
      })
      if (outcome.fail !== undefined) return failRun(deps, run, phase, outcome.fail, [], [])
      if (next === null) {
        deps.metrics?.runFinished(kind, 'succeeded', elapsedSeconds(run, deps.now()))
        deps.log.info({ runId: run.id, key: run.key_id, correlationId: run.correlation_id }, 'run succeeded')
        return run
      }
      phase = next
    }
  }

  /** One fenced transaction: the run's new fields, its journal, dependents' answers, extra writes. */
  async function write(
    run: RunRow,
    patch: RunUpdate,
    events: NewRunEvent[],
    observations: DependentObservation[] = [],
    extra?: (trx: Transaction<Database>) => Promise<void>,
  ): Promise<RunRow> {
    await db.transaction().execute(async (trx) => {
      await updateRunFenced(trx, run.id, run.fencing_token, patch)
      await extra?.(trx)
      await appendEvents(trx, events)
      for (const o of observations) await recordDependent(trx, o)
    })
    return { ...run, ...patch }
  }

  /** The halt is engaged: give the run back untouched; it goes on once the halt is released. */
  async function release(run: RunRow): Promise<RunRow> {
    const patch = { lease_owner: null, lease_expires_at: deps.now().toISOString() }
    deps.log.warn({ runId: run.id, key: run.key_id }, 'halt engaged: run paused before its next phase')
    return write(run, patch, [
      event(run, 'run.paused', run.phase, 'halt engaged: paused before the next phase'),
    ])
  }

  function context(
    run: RunRow,
    phase: Phase,
    key: ManagedKey,
    journal: Journal,
    signal: AbortSignal,
  ): PhaseContext {
    const now = deps.now()
    return {
      run,
      phase,
      key,
      provider: deps.providers.get(key.provider),
      ref: { keyId: key.id, algorithm: key.algorithm },
      dependents: deps.dependents,
      db,
      deadline: new Date(now.getTime() + key.phaseTimeoutMs),
      signal,
      now: deps.now,
      note: (type, message, data) => journal.events.push(event(run, type, phase, message, data)),
      observe: (o) => journal.observations.push({ ...o, keyId: key.id, at: deps.now().toISOString() }),
      async checkpoint(message, writeState) {
        const events = [...journal.events.splice(0), event(run, 'phase.checkpoint', phase, message)]
        const observations = journal.observations.splice(0)
        await write(run, {}, events, observations, writeState)
      },
    }
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

  return {
    execute,
    /** Re-reads a run (after a stale-lease refusal, say). */
    reload: async (id: string) => {
      const run = await findRun(db, id)
      if (run === undefined) throw new KeyrotorError('NOT_FOUND', `unknown run ${id}`)
      return run
    },
  }
}

export type RunExecutor = ReturnType<typeof createRunExecutor>
