import type { Kysely } from 'kysely'
import type { Trigger } from '../../domain/runs.js'
import { KeyrotorError } from '../../errors.js'
import type { ApprovalPort } from './approval-port.js'
import type { Role } from '../../domain/roles.js'
import { appendEvents } from '../../store/events-repository.js'
import type { Database } from '../../store/tables.js'
import type { EngineDeps } from '../engine-deps.js'
import { runEvent } from '../runs/journal.js'
import type { RunRequestResult, RunService } from '../runs/rotation-service.js'
import { terminal } from '../runs/run-fields.js'
import { APPROVED_RUN_KINDS, type ApprovedKind, type ApprovedKindDeps } from './approved-run-kinds.js'

/** What every approved run needs; each kind adds its own (`ApprovedKindDeps`). */
export type ApprovedRunDeps = Pick<EngineDeps, 'now'> & {
  runs: Pick<RunService, 'request'>
  approvals: ApprovalPort
}

/** A request for an approved run. */
export interface ApprovedRunRequest {
  keyId: string
  requestedBy: { user: string; role: Role }
  reason: string | undefined
  idempotencyKey?: string | undefined
  attempt?: number | undefined
  trigger?: Trigger | undefined
}

/**
 * Runs of `kind` (one row of APPROVED_RUN_KINDS) need a four-eyes approval before they may
 * start: the run and its approval request are written in one transaction; the approval's
 * executor queues the run, a rejection or expiry ends it with nothing changed.
 */
export function createApprovedRuns<K extends ApprovedKind>(
  deps: ApprovedRunDeps & ApprovedKindDeps[K],
  kind: K,
) {
  const spec = APPROVED_RUN_KINDS[kind]

  async function settle(trx: Kysely<Database>, runId: string, state: 'queued' | 'rejected', why: string) {
    const run = await trx.selectFrom('runs').selectAll().where('id', '=', runId).executeTakeFirst()
    if (run?.state !== 'awaiting_approval') {
      throw new KeyrotorError('CONFLICT', `run ${runId} is ${run?.state ?? 'missing'}, not awaiting approval`)
    }
    const now = deps.now()
    const patch = state === 'queued' ? { state } : terminal(state, now)
    await trx
      .updateTable('runs')
      .set(patch)
      .where('id', '=', runId)
      .where('state', '=', 'awaiting_approval')
      .execute()
    await appendEvents(trx, [
      runEvent(run, now, state === 'queued' ? 'run.approved' : 'run.rejected', null, why),
    ])
    return run
  }

  deps.approvals.register(
    kind,
    async (approval, trx) => {
      const run = await settle(trx, String(approval.payload.runId), 'queued', `approved (${approval.id})`)
      await spec.onApproved?.(deps, run, approval, trx)
    },
    {
      onRejected: async (approval, trx) => {
        await settle(trx, String(approval.payload.runId), 'rejected', `rejected (${approval.id})`)
      },
      onExpired: async (approval, trx) => {
        await settle(trx, String(approval.payload.runId), 'rejected', `approval ${approval.id} expired`)
      },
    },
  )

  return {
    /** Checks the kind's precondition, then records the run (awaiting_approval) and its approval request together. */
    async request(input: ApprovedRunRequest): Promise<RunRequestResult> {
      await spec.precondition?.(deps, input.keyId)
      if (input.reason === undefined || input.reason.trim() === '') {
        throw new KeyrotorError('BAD_REQUEST', `reason: a ${kind} run needs a reason`)
      }
      const reason = input.reason
      return deps.runs.request({
        keyId: input.keyId,
        kind,
        actor: input.requestedBy.user,
        trigger: input.trigger ?? 'manual',
        reason,
        idempotencyKey: input.idempotencyKey,
        attempt: input.attempt,
        awaitApproval: true,
        onInsert: async (trx, run) => {
          const approval = await deps.approvals.request(trx, {
            action: kind,
            subject: `key:${input.keyId}`,
            payload: { runId: run.id, key: input.keyId },
            requiredRoles: spec.requiredRoles,
            requestedBy: input.requestedBy,
            reason,
            ttlMs: spec.ttlMs,
            runId: run.id,
            correlationId: run.correlation_id,
          })
          await trx.updateTable('runs').set({ approval_id: approval.id }).where('id', '=', run.id).execute()
          run.approval_id = approval.id
        },
      })
    },
  }
}
