import { sql, type Kysely, type Transaction } from 'kysely'
import { NON_TERMINAL_RUN_STATES, type RunState } from '../domain/runs.js'
import { KeyrotorError } from '../errors.js'
import type { DialectName } from './dialect.js'
import type { Database, NewRun, RunRow, RunUpdate } from './tables.js'

export type Executor = Kysely<Database> | Transaction<Database>

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

export async function listRuns(
  db: Executor,
  filter: { key?: string | undefined; state?: string | undefined; limit?: number | undefined },
): Promise<RunRow[]> {
  let query = db.selectFrom('runs').selectAll()
  if (filter.key !== undefined) query = query.where('key_id', '=', filter.key)
  if (filter.state !== undefined) query = query.where('state', '=', filter.state)
  return query
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(filter.limit ?? 100)
    .execute()
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

/** The next runnable run: queued and due, or running with an expired lease (its worker died). */
export async function claimNextRun(
  db: Kysely<Database>,
  dialect: DialectName,
  owner: string,
  now: Date,
  leaseMs: number,
): Promise<RunRow | undefined> {
  const nowIso = now.toISOString()
  return db.transaction().execute(async (trx) => {
    let query = trx
      .selectFrom('runs')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb.and([
            eb('state', '=', 'queued'),
            eb.or([eb('not_before', 'is', null), eb('not_before', '<=', nowIso)]),
          ]),
          eb.and([eb('state', '=', 'running'), eb('lease_expires_at', '<', nowIso)]),
        ]),
      )
      .orderBy('priority')
      .orderBy('created_at')
      .limit(1)
    if (dialect === 'postgres') query = query.forUpdate().skipLocked()
    const candidate = await query.executeTakeFirst()
    if (candidate === undefined) return undefined
    const claimed: RunUpdate = {
      state: 'running',
      lease_owner: owner,
      lease_expires_at: new Date(now.getTime() + leaseMs).toISOString(),
      fencing_token: candidate.fencing_token + 1,
      started_at: candidate.started_at ?? nowIso,
    }
    const result = await trx
      .updateTable('runs')
      .set(claimed)
      .where('id', '=', candidate.id)
      .where('fencing_token', '=', candidate.fencing_token)
      .executeTakeFirst()
    // another instance claimed it between our read and our write: not ours
    if (result.numUpdatedRows !== 1n) return undefined
    return { ...candidate, ...claimed }
  })
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
