import type { Transaction } from 'kysely'
import type { EngineDeps } from '../engine/engine-deps.js'
import { KeyrotorError } from '../errors.js'
import type { Database } from '../store/tables.js'
import type { ApprovalService, ApprovalView } from '../governance/approvals.js'

/**
 * Ties a config proposal's state to its approval: the approval completing marks the proposal
 * approved (applying stays a separate, deliberate step), a rejection or expiry ends it. Each runs
 * in the approvals service's transaction, so proposal and approval never disagree.
 */
export function registerConfigApproval(
  deps: Pick<EngineDeps, 'audit' | 'now'> & { approvals: Pick<ApprovalService, 'register'> },
): void {
  async function settle(
    approval: ApprovalView,
    trx: Transaction<Database>,
    state: 'approved' | 'rejected' | 'expired',
  ): Promise<void> {
    const at = deps.now().toISOString()
    const by = state === 'approved' ? approval.approvals : approval.rejections
    const names = by.map((d) => d.by).join(', ')
    const updated = await trx
      .updateTable('config_proposals')
      .set(state === 'approved' ? { state, approved_by: names, approved_at: at } : { state, decided_at: at })
      .where('approval_id', '=', approval.id)
      .where('state', '=', 'pending')
      .executeTakeFirst()
    if (updated.numUpdatedRows !== 1n) {
      throw new KeyrotorError('CONFLICT', `config proposal ${approval.subject} is no longer pending`)
    }
    await deps.audit.append(trx, {
      actor: state === 'expired' ? 'keyrotor' : names,
      action: `config.${state}`,
      target: approval.subject,
      correlationId: approval.correlationId,
      reason: state === 'rejected' ? (approval.rejections.at(-1)?.reason ?? undefined) : undefined,
      details: { approvalId: approval.id, hash: approval.payload.hash ?? null },
    })
  }

  deps.approvals.register('config.apply', (approval, trx) => settle(approval, trx, 'approved'), {
    onRejected: (approval, trx) => settle(approval, trx, 'rejected'),
    onExpired: (approval, trx) => settle(approval, trx, 'expired'),
  })
}
