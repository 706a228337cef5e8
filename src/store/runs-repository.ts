import { sql } from 'kysely'
import { NON_TERMINAL_RUN_STATES, type RunKind, type RunState } from '../domain/runs.js'
import { KeyrotorError } from '../errors.js'
import type { Executor } from './database.js'
import { keysetPage, withinTime, type KeysetOrder, type Page, type PageQuery } from './keyset-page.js'
import type { NewRun, RunRow, RunUpdate } from './tables.js'
import type { ExpressionBuilder } from 'kysely'
import { isPastPointOfNoReturn, phasesOf } from '../domain/phases.js'
import type { Database } from './tables.js'

export async function insertRun(db: Executor, run: NewRun): Promise<void> {
  await db.insertInto('runs').values(run).execute()
}

export async function findRun(db: Executor, id: string): Promise<RunRow | undefined> {
  return db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst()
}

export async function findRunByIdempotencyKey(db: Executor, key: string): Promise<RunRow | undefined> {
  return db.selectFrom('runs').selectAll().where('idempotency_key', '=', key).executeTakeFirst()
}

export async function findActiveRunForKey(db: Executor, keyId: string): Promise<RunRow | undefined> {
  return db.selectFrom('runs').selectAll().where('active_key', '=', keyId).executeTakeFirst()
}

export interface RunListQuery extends PageQuery {
  key?: string | undefined
  state?: RunState | undefined
  kind?: RunKind | undefined
  /** Runs created at or after this time (ISO 8601). */
  since?: string | undefined
  /** Runs created before this time (ISO 8601). */
  until?: string | undefined
}

const RUNS_NEWEST_FIRST: KeysetOrder<RunRow> = {
  list: 'runs',
  columns: ['created_at', 'id'],
  direction: 'desc',
  positionOf: (run) => [run.created_at, run.id],
}

/** Runs newest first, one page of them (100 when no limit is given, as the list always answered). */
export async function listRuns(db: Executor, filter: RunListQuery): Promise<Page<RunRow>> {
  let query = db.selectFrom('runs').selectAll()
  if (filter.key !== undefined) query = query.where('key_id', '=', filter.key)
  if (filter.state !== undefined) query = query.where('state', '=', filter.state)
  if (filter.kind !== undefined) query = query.where('kind', '=', filter.kind)
  query = withinTime(query, 'created_at', filter)
  return keysetPage(query, RUNS_NEWEST_FIRST, { limit: filter.limit ?? 100, cursor: filter.cursor })
}

/** The newest run of each of `keyIds` (keys without a run are absent), in one query. */
export async function latestRunsOf(db: Executor, keyIds: readonly string[]): Promise<Map<string, RunRow>> {
  if (keyIds.length === 0) return new Map()
  const rows = await db
    .selectFrom((eb) =>
      eb
        .selectFrom('runs')
        .selectAll()
        .select(
          sql<number>`row_number() over (partition by key_id order by created_at desc, id desc)`.as('newest'),
        )
        .where('key_id', 'in', keyIds)
        .as('ranked'),
    )
    .selectAll()
    .where('newest', '=', 1)
    .execute()
  return new Map(rows.map(({ newest: _, ...run }) => [run.key_id, run]))
}

export async function countDuplicate(db: Executor, id: string): Promise<void> {
  await db
    .updateTable('runs')
    .set((eb) => ({ duplicate_count: eb('duplicate_count', '+', 1) }))
    .where('id', '=', id)
    .execute()
}

/**
 * Updates a run only if the caller still holds the claim it was given: the fencing token must be
 * the current one. A worker that lost its lease (paused, partitioned) changes nothing.
 */
export async function updateRunFenced(
  db: Executor,
  id: string,
  fencingToken: number,
  patch: RunUpdate,
): Promise<void> {
  const result = await db
    .updateTable('runs')
    // an empty patch still proves the claim (a checkpoint writes only other tables)
    .set(Object.keys(patch).length === 0 ? { fencing_token: fencingToken } : patch)
    .where('id', '=', id)
    .where('fencing_token', '=', fencingToken)
    .executeTakeFirst()
  if (result.numUpdatedRows !== 1n) {
    throw new KeyrotorError(
      'STALE_LEASE',
      `run ${id}: this worker's claim (token ${fencingToken}) is no longer current`,
    )
  }
}

/** Ends every lease at once: only for SQLite, whose data-dir lock proves their holders are gone. */
export async function expireLeases(db: Executor, now: Date): Promise<void> {
  await db
    .updateTable('runs')
    .set({ lease_expires_at: now.toISOString() })
    .where('state', '=', 'running')
    .where('lease_expires_at', '>', now.toISOString())
    .execute()
}

export async function renewLease(
  db: Executor,
  id: string,
  fencingToken: number,
  expiresAt: Date,
): Promise<void> {
  await updateRunFenced(db, id, fencingToken, { lease_expires_at: expiresAt.toISOString() })
}

export async function countRunsByState(db: Executor): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('runs')
    .select(['state', sql<number>`count(*)`.as('n')])
    .groupBy('state')
    .execute()
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]))
}

export const ACTIVE_STATES: readonly RunState[] = NON_TERMINAL_RUN_STATES

/**
 * Forward correction's rule (DESIGN §4.8): a run "stopped past promote" is a halted one (partial
 * execution) or one that failed in a rotation's phases from promote on. A run that failed before
 * promote changed nothing users rely on: it is retried, not corrected forward.
 */
const PAST_PROMOTE = phasesOf('rotate').filter((phase) => isPastPointOfNoReturn('rotate', phase))

function stoppedPastPromote(eb: ExpressionBuilder<Database, 'runs'>) {
  return eb.or([
    eb('state', '=', 'halted'),
    eb.and([eb('state', '=', 'failed'), eb('failure_phase', 'in', PAST_PROMOTE)]),
  ])
}

/** Whether any run of `keyId` stopped past promote: the precondition of a forward correction. */
export async function hasRunStoppedPastPromote(db: Executor, keyId: string): Promise<boolean> {
  const stopped = await db
    .selectFrom('runs')
    .select('id')
    .where('key_id', '=', keyId)
    .where(stoppedPastPromote)
    .executeTakeFirst()
  return stopped !== undefined
}

/** The latest rotation of `keyId` that stopped past promote with a planned to-version: what a forward correction finishes. */
export async function lastRotationStoppedPastPromote(
  db: Executor,
  keyId: string,
): Promise<RunRow | undefined> {
  return db
    .selectFrom('runs')
    .selectAll()
    .where('key_id', '=', keyId)
    .where(stoppedPastPromote)
    .where('kind', 'in', ['rotate', 'emergency-rotate', 'forward-correct'])
    .where('to_version', 'is not', null)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst()
}

/** When a cancel of run `id` was asked for, or null: honoured only before the point of no return. */
export async function cancelRequestedAt(db: Executor, id: string): Promise<string | null> {
  const row = await db
    .selectFrom('runs')
    .select('cancel_requested_at')
    .where('id', '=', id)
    .executeTakeFirst()
  return row?.cancel_requested_at ?? null
}
