import type { Kysely } from 'kysely'
import { KeyrotorError } from '../errors.js'
import type { ApprovalService } from '../governance/approvals.js'
import type { Role } from '../governance/roles.js'
import { appendEvents } from '../store/events-repository.js'
import { requireKey } from '../store/keys-repository.js'
import type { Database, RunRow } from '../store/tables.js'
import type { EngineDeps } from './engine-deps.js'
import { runEvent } from './journal.js'
import type { RunService } from './rotation-service.js'
import { terminal } from './run-fields.js'

/** How long a forward correction waits for its security approval. */
const APPROVAL_TTL_MS = 24 * 3_600_000

/**
 * Forward correction (DESIGN §4.8): after a partial execution, a security-approved run of kind
 * `forward-correct` drives the key forward to a consistent state. It is requested while the halt
 * is engaged, waits in awaiting_approval, and is queued only by the approval's executor.
 */
export function createForwardCorrection(
  deps: Pick<EngineDeps, 'db' | 'audit' | 'now'> & {
    runs: Pick<RunService, 'request'>
    approvals: Pick<ApprovalService, 'register' | 'request'>
  },
) {
  async function settleRun(trx: Kysely<Database>, runId: string, state: 'queued' | 'rejected', why: string) {
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
  }

  deps.approvals.register(
    'forward-correct',
    async (approval, trx) =>
      settleRun(trx, String(approval.payload.runId), 'queued', `approved (${approval.id})`),
    {
      onRejected: async (approval, trx) =>
        settleRun(trx, String(approval.payload.runId), 'rejected', `rejected (${approval.id})`),
      onExpired: async (approval, trx) =>
        settleRun(trx, String(approval.payload.runId), 'rejected', `approval ${approval.id} expired`),
    },
  )

  return {
    async request(input: {
      keyId: string
      requestedBy: { user: string; role: Role }
      reason: string | undefined
      idempotencyKey?: string | undefined
    }): Promise<{ run: RunRow; created: boolean }> {
      if (input.reason === undefined || input.reason.trim() === '') {
        throw new KeyrotorError('BAD_REQUEST', 'reason: a forward correction needs a reason')
      }
      const reason = input.reason
      await requireKey(deps.db, input.keyId)
      const stopped = await deps.db
        .selectFrom('runs')
        .select('id')
        .where('key_id', '=', input.keyId)
        .where((eb) =>
          eb.or([
            eb('state', '=', 'halted'),
            eb.and([
              eb('state', '=', 'failed'),
              eb('failure_phase', 'in', ['promote', 'confirm', 'validate']),
            ]),
          ]),
        )
        .executeTakeFirst()
      if (stopped === undefined) {
        throw new KeyrotorError(
          'PREFLIGHT_REJECTED',
          `key ${input.keyId} has no rotation stopped past promote: there is nothing to correct forward (a run that failed before promote is retried)`,
        )
      }
      return deps.runs.request({
        keyId: input.keyId,
        kind: 'forward-correct',
        actor: input.requestedBy.user,
        trigger: 'manual',
        reason,
        idempotencyKey: input.idempotencyKey,
        awaitApproval: true,
        onInsert: async (trx, run) => {
          const approval = await deps.approvals.request(trx, {
            action: 'forward-correct',
            subject: `key:${input.keyId}`,
            payload: { runId: run.id, key: input.keyId },
            requiredRoles: ['security'],
            requestedBy: input.requestedBy,
            reason,
            ttlMs: APPROVAL_TTL_MS,
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

export type ForwardCorrection = ReturnType<typeof createForwardCorrection>
