import type { Selectable } from 'kysely'
import { z } from 'zod'
import type { ApprovalAction, ApprovalState, RoleRequirement } from '../domain/approvals.js'
import { isRole } from '../domain/roles.js'
import type { Executor } from './database.js'
import { decodeJsonColumn, encodeJsonColumn } from './json-column.js'
import { keysetPage, withinTime, type KeysetOrder, type Page, type PageQuery } from './keyset-page.js'
import type { ApprovalDecisionsTable, ApprovalRow } from './tables.js'

// The approvals and their decisions: every query over them, and their two JSON columns decoded
// here once (the payload a reviewer approves, the roles that must each approve).

const payloadSchema = z.record(z.string(), z.unknown())
// a role, or alternatives `a|b` any one of which covers the requirement
const requiredRolesSchema = z.array(
  z.custom<RoleRequirement>((value) => {
    const roles = typeof value === 'string' ? value.split('|') : []
    return roles.length >= 1 && roles.length <= 2 && roles.every(isRole)
  }),
)

/** An approval row with its JSON columns decoded. */
export type StoredApproval = Omit<ApprovalRow, 'payload' | 'required_roles'> & {
  payload: Record<string, unknown>
  required_roles: RoleRequirement[]
}

export type StoredDecision = Selectable<ApprovalDecisionsTable>

export interface ApprovalListQuery extends PageQuery {
  state?: ApprovalState | undefined
  action?: ApprovalAction | undefined
  /** What the approval is about: a key id, a proposal id, … */
  subject?: string | undefined
  /** Approvals requested at or after this time. */
  since?: string | undefined
  until?: string | undefined
}

const APPROVALS_NEWEST_FIRST: KeysetOrder<ApprovalRow> = {
  list: 'approvals',
  columns: ['created_at', 'id'],
  direction: 'desc',
  positionOf: (row) => [row.created_at, row.id],
}

/** Approvals newest first, one page (all of them when no limit is given). */
export async function pageApprovals(db: Executor, query: ApprovalListQuery): Promise<Page<StoredApproval>> {
  let select = db.selectFrom('approvals').selectAll()
  if (query.state !== undefined) select = select.where('state', '=', query.state)
  if (query.action !== undefined) select = select.where('action', '=', query.action)
  if (query.subject !== undefined) select = select.where('subject', '=', query.subject)
  select = withinTime(select, 'created_at', query)
  const page = await keysetPage(select, APPROVALS_NEWEST_FIRST, query)
  return { ...page, items: page.items.map(decodeApproval) }
}

export async function findApproval(db: Executor, id: string): Promise<StoredApproval | undefined> {
  const row = await db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst()
  return row === undefined ? undefined : decodeApproval(row)
}

/** The decisions on `approvalIds`, in the order they were made (then by person). */
export async function decisionsOf(db: Executor, approvalIds: readonly string[]): Promise<StoredDecision[]> {
  if (approvalIds.length === 0) return []
  return db
    .selectFrom('approval_decisions')
    .selectAll()
    .where('approval_id', 'in', approvalIds)
    .orderBy('at')
    .orderBy('by_user')
    .execute()
}

/**
 * Writes the approval's row (to what it is), so deciders of one approval serialize on it in both
 * dialects (a row lock in PostgreSQL, the write lock in SQLite). False when there is no such row.
 */
export async function lockApproval(trx: Executor, id: string): Promise<boolean> {
  const touched = await trx
    .updateTable('approvals')
    .set((eb) => ({ decided_at: eb.ref('decided_at') }))
    .where('id', '=', id)
    .executeTakeFirst()
  return Number(touched.numUpdatedRows) > 0
}

/** Whether any pending approval is past its expiry at `at` (a plain read: no write lock). */
export async function hasOverdueApproval(db: Executor, at: string): Promise<boolean> {
  const overdue = await db
    .selectFrom('approvals')
    .select('id')
    .where('state', '=', 'pending')
    .where('expires_at', '<', at)
    .executeTakeFirst()
  return overdue !== undefined
}

/** Marks pending approvals past their expiry expired; returns them. */
export async function expireOverdueApprovals(trx: Executor, at: string): Promise<StoredApproval[]> {
  const rows = await trx
    .updateTable('approvals')
    .set({ state: 'expired', decided_at: at })
    .where('state', '=', 'pending')
    .where('expires_at', '<', at)
    .returningAll()
    .execute()
  return rows.map(decodeApproval)
}

export async function insertApproval(db: Executor, approval: StoredApproval): Promise<void> {
  await db
    .insertInto('approvals')
    .values({
      ...approval,
      payload: encodeJsonColumn(payloadSchema, approval.payload),
      required_roles: encodeJsonColumn(requiredRolesSchema, approval.required_roles),
    })
    .execute()
}

export async function insertDecision(trx: Executor, decision: StoredDecision): Promise<void> {
  await trx.insertInto('approval_decisions').values(decision).execute()
}

export async function setApprovalState(
  trx: Executor,
  id: string,
  state: ApprovalState,
  at: string,
): Promise<void> {
  await trx.updateTable('approvals').set({ state, decided_at: at }).where('id', '=', id).execute()
}

/** The digest stored when the approval was requested: what its approvers approved. */
export async function storedDigest(db: Executor, id: string): Promise<string | undefined> {
  const row = await db.selectFrom('approvals').select('digest').where('id', '=', id).executeTakeFirst()
  return row?.digest
}

/**
 * Approvals of a story, oldest first: those under `correlationIds`, plus the release of a halt
 * that one of `haltedRunIds` engaged (the release's payload names that halt's reason, which names
 * the run).
 */
export async function approvalsOfStory(
  db: Executor,
  correlationIds: readonly string[],
  haltedRunIds: readonly string[],
): Promise<StoredApproval[]> {
  const rows = await db
    .selectFrom('approvals')
    .selectAll()
    .where((eb) =>
      eb.or([
        eb('correlation_id', 'in', correlationIds),
        ...haltedRunIds.map((runId) =>
          eb.and([eb('action', '=', 'halt.release'), eb('payload', 'like', `%run ${runId} %`)]),
        ),
      ]),
    )
    .orderBy('created_at')
    .execute()
  return rows.map(decodeApproval)
}

function decodeApproval(row: ApprovalRow): StoredApproval {
  const place = (column: string) => ({ table: 'approvals', column, row: row.id })
  return {
    ...row,
    payload: decodeJsonColumn(payloadSchema, row.payload, place('payload')),
    required_roles: decodeJsonColumn(requiredRolesSchema, row.required_roles, place('required_roles')),
  }
}
