import type { Transaction } from 'kysely'
import type { Role } from '../../domain/roles.js'
import { firstPhase } from '../../domain/phases.js'
import { priorityOf, type RunKind, type Trigger } from '../../domain/runs.js'
import { windowsApply } from '../../domain/windows.js'
import { KeyrotorError } from '../../errors.js'
import { appendEvents } from '../../store/events-repository.js'
import { listVersions, requireKey } from '../../store/keys-repository.js'
import type { Executor } from '../../store/database.js'
import {
  countDuplicate,
  findActiveRunForKey,
  findRunByIdempotencyKey,
  insertRun,
} from '../../store/runs-repository.js'
import type { Database, NewRun, RunRow } from '../../store/tables.js'
import { violates } from '../../store/unique-violation.js'
import { assertInChangeWindow } from '../schedule/change-window.js'
import type { EngineDeps } from '../engine-deps.js'
import { readHalt } from '../../store/halt-repository.js'
import { newCorrelationId, newRunId } from './ids.js'
import { runEvent } from './journal.js'

export interface RunRequest {
  keyId: string
  kind: RunKind
  actor: string
  trigger: Trigger
  idempotencyKey?: string | undefined
  reason?: string | undefined
  attempt?: number | undefined
  /** For a revoke: the version it revokes. */
  fromVersion?: number | undefined
  notBefore?: string | undefined
  /** The requester's role, for the approval a run may need (a person is never their own second). */
  actorRole?: Role | undefined
  /** The run waits in awaiting_approval until its approval executes. */
  awaitApproval?: boolean | undefined
  /** More writes in the transaction that inserts the run (its approval request). */
  onInsert?: ((trx: Transaction<Database>, run: NewRun) => Promise<void>) | undefined
}

export interface RunRequestResult {
  run: RunRow
  /** False when the idempotency key named an existing run: a suppressed duplicate. */
  created: boolean
}

/**
 * Starts runs. The database decides the races: the unique idempotency key makes a repeated
 * trigger return the existing run, and the unique `active_key` allows one live run per key.
 */
export function createRunService(
  deps: Pick<EngineDeps, 'db' | 'transact' | 'alerts' | 'audit' | 'now'> & { wake(): void },
) {
  const { db } = deps

  async function duplicateOf(run: RunRow, request: RunRequest): Promise<RunRequestResult> {
    if (run.key_id !== request.keyId) {
      throw new KeyrotorError(
        'BAD_REQUEST',
        `idempotency key "${request.idempotencyKey}" already names run ${run.id} on key ${run.key_id}, not ${request.keyId}`,
      )
    }
    await deps.transact(async (trx) => {
      await countDuplicate(trx, run.id)
      await deps.audit.append(trx, {
        actor: request.actor,
        action: 'run.duplicate_suppressed',
        target: run.key_id,
        correlationId: run.correlation_id,
        details: { runId: run.id, attempt: request.attempt ?? null },
      })
    })
    return { run: { ...run, duplicate_count: run.duplicate_count + 1 }, created: false }
  }

  async function refuseConcurrent(request: RunRequest, correlationId: string): Promise<never> {
    const holder = await findActiveRunForKey(db, request.keyId)
    const holderText =
      holder === undefined ? 'another run' : `run ${holder.id} (correlation ${holder.correlation_id})`
    const message = `key ${request.keyId} already has ${holderText} in progress; attempt ${correlationId} refused`
    await deps.alerts.raise(db, {
      type: 'concurrent_rotation',
      severity: 'warning',
      key: request.keyId,
      runId: holder?.id,
      correlationId,
      message,
    })
    throw new KeyrotorError('CONCURRENT_ROTATION', message, {
      details: { runId: holder?.id, runCorrelationId: holder?.correlation_id },
    })
  }

  async function request(request: RunRequest): Promise<RunRequestResult> {
    if (request.idempotencyKey !== undefined) {
      const existing = await findRunByIdempotencyKey(db, request.idempotencyKey)
      if (existing !== undefined) return duplicateOf(existing, request)
    }
    const key = await requireKey(db, request.keyId)
    const halt = await readHalt(db)
    // forward correction is how a halted key is repaired: it is requested while halted
    if (halt.engaged && request.kind !== 'forward-correct') {
      throw new KeyrotorError(
        'HALTED',
        `the global halt is engaged since ${halt.since} by ${halt.by}: ${halt.reason}`,
      )
    }
    // an unexpected provider-side transition froze the key: nothing moves it until a verify passes
    if (key.frozen_at !== null) {
      throw new KeyrotorError(
        'PREFLIGHT_REJECTED',
        `key ${key.id} is frozen since ${key.frozen_at}: ${key.frozen_reason ?? 'unexpected transition'}; run \`keyrotor verify ${key.id}\``,
      )
    }
    await requireActiveVersion(db, request.keyId)
    const now = deps.now()
    if (windowsApply(request.kind, request.trigger)) await assertInChangeWindow(db, request.keyId, now)
    const run: NewRun = {
      id: newRunId(now),
      key_id: request.keyId,
      kind: request.kind,
      state: request.awaitApproval === true ? 'awaiting_approval' : 'queued',
      phase: firstPhase(request.kind),
      phase_status: 'pending',
      from_version: request.fromVersion ?? null,
      to_version: null,
      correlation_id: newCorrelationId(),
      idempotency_key: request.idempotencyKey ?? null,
      trigger: request.trigger,
      requested_by: request.actor,
      reason: request.reason ?? null,
      priority: priorityOf(request.kind, request.trigger),
      attempt: request.attempt ?? null,
      duplicate_count: 0,
      fencing_token: 0,
      not_before: request.notBefore ?? null,
      created_at: now.toISOString(),
      started_at: null,
      finished_at: null,
      failure_class: null,
      failure_phase: null,
      failure_message: null,
      validation: null,
      lease_owner: null,
      lease_expires_at: null,
      active_key: request.keyId,
    }
    try {
      await deps.transact(async (trx) => {
        await insertRun(trx, run)
        await request.onInsert?.(trx, run)
        await appendEvents(trx, [
          runEvent(
            run,
            now,
            'run.created',
            null,
            `${request.kind} of ${request.keyId} requested by ${request.actor}`,
          ),
        ])
        await deps.audit.append(trx, {
          actor: request.actor,
          action: `${request.kind}.requested`,
          target: request.keyId,
          correlationId: run.correlation_id,
          ...(request.reason === undefined ? {} : { reason: request.reason }),
          details: { runId: run.id, trigger: request.trigger, attempt: request.attempt ?? null },
        })
      })
    } catch (error) {
      if (request.idempotencyKey !== undefined && violates(error, 'runs', 'idempotency_key')) {
        const existing = await findRunByIdempotencyKey(db, request.idempotencyKey)
        if (existing !== undefined) return duplicateOf(existing, request)
      }
      if (violates(error, 'runs', 'active_key')) return refuseConcurrent(request, run.correlation_id)
      throw error
    }
    deps.wake()
    return { run: run as RunRow, created: true }
  }

  return { request }
}

export type RunService = ReturnType<typeof createRunService>

async function requireActiveVersion(db: Executor, keyId: string): Promise<void> {
  const versions = await listVersions(db, keyId)
  if (!versions.some((v) => v.state === 'active')) {
    throw new KeyrotorError('PREFLIGHT_REJECTED', `key ${keyId} has no active version to rotate from`)
  }
}
