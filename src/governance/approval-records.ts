import type { Kysely, Selectable } from 'kysely'
import { KeyrotorError } from '../errors.js'
import { byTimeThenId, filteredPage } from '../store/keyset-page.js'
import type { Page, PageQuery, TimeRange } from '../store/keyset-page.js'
import type { ApprovalDecisionsTable, ApprovalRow, Database } from '../store/tables.js'
import type { ApprovalFacts, Decider } from './approval-rules.js'
import type { ApprovalAction, ApprovalState } from '../domain/approvals.js'
import type { Role } from '../domain/roles.js'

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

type DecisionRow = Selectable<ApprovalDecisionsTable>

/** Approvals newest first; `since`/`until` on when they were requested. */
export interface ApprovalListQuery extends PageQuery, TimeRange {
  state?: ApprovalState | undefined
  action?: ApprovalAction | undefined
  /** What the approval is about: a key id, a proposal id, … */
  subject?: string | undefined
}

const APPROVALS_NEWEST_FIRST = byTimeThenId<ApprovalRow, 'created_at'>('approvals', 'created_at', 'desc')

/** Approvals newest first with their decisions, one page (all of them when no limit is given). */
export async function pageViews(db: Kysely<Database>, query: ApprovalListQuery): Promise<Page<ApprovalView>> {
  const equal = { state: query.state, action: query.action, subject: query.subject }
  const select = db.selectFrom('approvals').selectAll()
  const page = await filteredPage(select, { equal, time: 'created_at' }, APPROVALS_NEWEST_FIRST, query)
  return { ...page, items: await loadViews(db, page.items) }
}

/** Approvals with their decisions, in the order of `rows`. */
export async function loadViews(db: Kysely<Database>, rows: ApprovalRow[]): Promise<ApprovalView[]> {
  if (rows.length === 0) return []
  const decisions = await db
    .selectFrom('approval_decisions')
    .selectAll()
    .where(
      'approval_id',
      'in',
      rows.map((r) => r.id),
    )
    .orderBy('at')
    .orderBy('by_user')
    .execute()
  return rows.map((row) =>
    toView(
      row,
      decisions.filter((d) => d.approval_id === row.id),
    ),
  )
}

export async function loadView(db: Kysely<Database>, id: string): Promise<ApprovalView> {
  const row = await db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst()
  if (row === undefined) throw new KeyrotorError('NOT_FOUND', `no approval ${id}`)
  const [view] = await loadViews(db, [row])
  return view as ApprovalView
}

/**
 * Writes the approval's row first, so deciders of one approval serialize on it in both dialects
 * (a row lock in PostgreSQL, the write lock in SQLite), then reads it.
 */
export async function lockView(trx: Kysely<Database>, id: string): Promise<ApprovalView> {
  const touched = await trx
    .updateTable('approvals')
    .set((eb) => ({ decided_at: eb.ref('decided_at') }))
    .where('id', '=', id)
    .executeTakeFirst()
  if (Number(touched.numUpdatedRows) === 0) throw new KeyrotorError('NOT_FOUND', `no approval ${id}`)
  return loadView(trx, id)
}

/** Marks pending approvals past their expiry expired; returns them. */
export async function expireOverdue(trx: Kysely<Database>, at: string): Promise<ApprovalView[]> {
  const rows = await trx
    .updateTable('approvals')
    .set({ state: 'expired', decided_at: at })
    .where('state', '=', 'pending')
    .where('expires_at', '<', at)
    .returningAll()
    .execute()
  return loadViews(trx, rows)
}

export async function insertDecision(
  trx: Kysely<Database>,
  approvalId: string,
  decider: Decider,
  decision: 'approved' | 'rejected',
  reason: string | null,
  at: string,
): Promise<void> {
  await trx
    .insertInto('approval_decisions')
    .values({ approval_id: approvalId, by_user: decider.user, role: decider.role, decision, reason, at })
    .execute()
}

export async function setState(
  trx: Kysely<Database>,
  id: string,
  state: ApprovalState,
  at: string,
): Promise<ApprovalView> {
  await trx.updateTable('approvals').set({ state, decided_at: at }).where('id', '=', id).execute()
  return loadView(trx, id)
}

function toView(row: ApprovalRow, decisions: DecisionRow[]): ApprovalView {
  const grant = (d: DecisionRow) => ({ by: d.by_user, role: d.role, at: d.at })
  return {
    id: row.id,
    action: row.action,
    subject: row.subject,
    state: row.state,
    requestedBy: row.requested_by,
    requiredRoles: JSON.parse(row.required_roles) as Role[],
    approvals: decisions.filter((d) => d.decision === 'approved').map(grant),
    rejections: decisions
      .filter((d) => d.decision === 'rejected')
      .map((d) => ({ ...grant(d), reason: d.reason })),
    expiresAt: row.expires_at,
    payload: JSON.parse(row.payload) as Record<string, unknown>,
    digest: row.digest,
    reason: row.reason,
    runId: row.run_id,
    correlationId: row.correlation_id,
    createdAt: row.created_at,
    decidedAt: row.decided_at,
  }
}
