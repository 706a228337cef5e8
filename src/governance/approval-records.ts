import { KeyrotorError } from '../errors.js'
import {
  decisionsOf,
  expireOverdueApprovals,
  findApproval,
  insertDecision as insertDecisionRow,
  lockApproval,
  pageApprovals,
  setApprovalState,
  type ApprovalListQuery,
  type StoredApproval,
  type StoredDecision,
} from '../store/approvals-repository.js'
import type { Executor } from '../store/database.js'
import type { Page } from '../store/keyset-page.js'
import type { ApprovalFacts, Decider } from './approval-rules.js'
import type { ApprovalAction, ApprovalState } from '../domain/approvals.js'

export type { ApprovalListQuery } from '../store/approvals-repository.js'

/** An approval as the API and the CLI show it (CONTRACT.md, plus what a reviewer needs to judge it). */
export interface ApprovalView extends ApprovalFacts {
  action: ApprovalAction
  subject: string
  /** What exactly is approved; its digest is checked before the action executes. */
  payload: Record<string, unknown>
  /** sha256 of action, subject and payload: what a reviewer approves, checked again at execution. */
  digest: string
  reason: string
  runId: string | null
  correlationId: string
  createdAt: string
  decidedAt: string | null
}

/** Approvals newest first with their decisions, one page (all of them when no limit is given). */
export async function pageViews(db: Executor, query: ApprovalListQuery): Promise<Page<ApprovalView>> {
  const page = await pageApprovals(db, query)
  return { ...page, items: await loadViews(db, page.items) }
}

/** Approvals with their decisions, in the order of `approvals`. */
export async function loadViews(db: Executor, approvals: StoredApproval[]): Promise<ApprovalView[]> {
  const decisions = await decisionsOf(
    db,
    approvals.map((a) => a.id),
  )
  return approvals.map((approval) =>
    toView(
      approval,
      decisions.filter((d) => d.approval_id === approval.id),
    ),
  )
}

export async function loadView(db: Executor, id: string): Promise<ApprovalView> {
  const approval = await findApproval(db, id)
  if (approval === undefined) throw new KeyrotorError('NOT_FOUND', `no approval ${id}`)
  const [view] = await loadViews(db, [approval])
  return view as ApprovalView
}

/** Locks the approval's row (deciders of one approval serialize on it), then reads it. */
export async function lockView(trx: Executor, id: string): Promise<ApprovalView> {
  if (!(await lockApproval(trx, id))) throw new KeyrotorError('NOT_FOUND', `no approval ${id}`)
  return loadView(trx, id)
}

/** Marks pending approvals past their expiry expired; returns them. */
export async function expireOverdue(trx: Executor, at: string): Promise<ApprovalView[]> {
  return loadViews(trx, await expireOverdueApprovals(trx, at))
}

export async function insertDecision(
  trx: Executor,
  approvalId: string,
  decider: Decider,
  decision: 'approved' | 'rejected',
  reason: string | null,
  at: string,
): Promise<void> {
  await insertDecisionRow(trx, {
    approval_id: approvalId,
    by_user: decider.user,
    role: decider.role,
    decision,
    reason,
    at,
  })
}

export async function setState(
  trx: Executor,
  id: string,
  state: ApprovalState,
  at: string,
): Promise<ApprovalView> {
  await setApprovalState(trx, id, state, at)
  return loadView(trx, id)
}

function toView(row: StoredApproval, decisions: StoredDecision[]): ApprovalView {
  const grant = (d: StoredDecision) => ({ by: d.by_user, role: d.role, at: d.at })
  return {
    id: row.id,
    action: row.action,
    subject: row.subject,
    state: row.state,
    requestedBy: row.requested_by,
    requiredRoles: row.required_roles,
    approvals: decisions.filter((d) => d.decision === 'approved').map(grant),
    rejections: decisions
      .filter((d) => d.decision === 'rejected')
      .map((d) => ({ ...grant(d), reason: d.reason })),
    expiresAt: row.expires_at,
    payload: row.payload,
    digest: row.digest,
    reason: row.reason,
    runId: row.run_id,
    correlationId: row.correlation_id,
    createdAt: row.created_at,
    decidedAt: row.decided_at,
  }
}
