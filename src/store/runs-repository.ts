import { sql, type ExpressionOrFactory, type SqlBool } from 'kysely'
import { NON_TERMINAL_RUN_STATES, type RunState } from '../domain/runs.js'
import { KeyrotorError } from '../errors.js'
import type { DialectName } from './dialect.js'
import type { Executor } from './database.js'
import { isHalted } from './halt-repository.js'
import type { Transact } from './transactor.js'
import type { Database, NewRun, RunRow, RunUpdate } from './tables.js'

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
  filter: { key?: string | undefined; state?: RunState | undefined; limit?: number | undefined },
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

/**
 * The next runnable run: queued and due, or running and due with no live lease (its worker died,
 * or gave it back: paused by the halt, waiting for a change window).
 */
export async function claimNextRun(
  transact: Transact,
  dialect: DialectName,
  owner: string,
  now: Date,
  leaseMs: number,
): Promise<RunRow | undefined> {
  const nowIso = now.toISOString()
  return transact(async (trx) => {
    const halted = await isHalted(trx)
    // One lookup per state, each a walk of runs_by_state (state, priority, created_at) in order:
    // a single query with an OR across the two states cannot use the index's order, so it sorted
    // every queued run at each claim (quadratic in a large backlog).
    const first = (state: 'queued' | 'running', due: ExpressionOrFactory<Database, 'runs', SqlBool>) => {
      let query = trx
        .selectFrom('runs')
        .selectAll()
        .where('state', '=', state)
        .where(due)
        // while the global halt is engaged only forward correction may start a phase
        .$if(halted, (q) => q.where('kind', '=', 'forward-correct'))
        .orderBy('priority')
        .orderBy('created_at')
        .limit(1)
      if (dialect === 'postgres') query = query.forUpdate().skipLocked()
      return query.executeTakeFirst()
    }
    const queued = await first('queued', (eb) =>
      eb.or([eb('not_before', 'is', null), eb('not_before', '<=', nowIso)]),
    )
    // A running run is claimable once no worker holds it (lease expired, or given back with the
    // owner cleared, which a late heartbeat cannot undo) and it is due: a run waiting for its
    // change window has not_before at the next opening, unless a cancel request wakes it early.
    const orphaned = await first('running', (eb) =>
      eb.and([
        eb.or([eb('lease_expires_at', '<', nowIso), eb('lease_owner', 'is', null)]),
        eb.or([
          eb('not_before', 'is', null),
          eb('not_before', '<=', nowIso),
          eb('cancel_requested_at', 'is not', null),
        ]),
      ]),
    )
    const candidate =
      queued === undefined || (orphaned !== undefined && comesBefore(orphaned, queued)) ? orphaned : queued
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

/** The claim order: priority first, then the older run. */
function comesBefore(a: RunRow, b: RunRow): boolean {
  return a.priority !== b.priority ? a.priority < b.priority : a.created_at < b.created_at
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
