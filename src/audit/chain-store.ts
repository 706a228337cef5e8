import type { Kysely } from 'kysely'
import { dialectOf } from '../store/dialect.js'
import type { Database } from '../store/tables.js'
import { GENESIS_HASH, hashRecord, type ChainedRow } from './chain.js'

/** The last record of the chain: its seq and hash. */
export interface ChainHead {
  seq: number
  hash: string
}

/** A record before it is chained: every column but seq and the hashes. */
export type UnchainedRow = Omit<ChainedRow, 'seq' | 'prev_hash'>

/** A chained record as stored. */
export type StoredRow = ChainedRow & { hash: string }

/**
 * Appends one record to the chain inside `trx`, which must be a transaction. Appenders are
 * serialized until their transaction ends, so the record with the highest seq is always the one
 * the next record chains to: on PostgreSQL by locking the `audit_head` row (many connections
 * append at once); on SQLite writers are serialized by the database itself (BEGIN IMMEDIATE, and
 * the transactor runs its savepoints one after another), so the lock would add nothing.
 * seq is assigned here (head + 1) because the hash covers it and must be known before the insert.
 */
export async function appendChained(
  trx: Kysely<Database>,
  key: Uint8Array,
  row: UnchainedRow,
): Promise<StoredRow> {
  await lockHead(trx)
  const head = await readHead(trx)
  const chained: ChainedRow = {
    at: storable(row.at),
    actor: storable(row.actor),
    action: storable(row.action),
    target: storableOrNull(row.target),
    correlation_id: storableOrNull(row.correlation_id),
    reason: storableOrNull(row.reason),
    details: storableOrNull(row.details),
    seq: (head?.seq ?? 0) + 1,
    prev_hash: head?.hash ?? GENESIS_HASH,
  }
  const stored = { ...chained, hash: hashRecord(key, chained) }
  await trx.insertInto('audit_events').values(stored).execute()
  return stored
}

/**
 * The text as both stores give it back: UTF-8 cannot hold a lone UTF-16 surrogate (the drivers
 * write U+FFFD instead) and PostgreSQL's text cannot hold NUL. The hash must cover exactly what is
 * stored, or `verify` calls an honest record forged; the API refuses such text before it gets
 * here, so this only catches what an internal caller passes.
 */
function storable(text: string): string {
  return text.toWellFormed().replaceAll('\u0000', '\uFFFD')
}

function storableOrNull(text: string | null): string | null {
  return text === null ? null : storable(text)
}

/** The record with the highest seq, or undefined when the log is empty. */
export async function readHead(db: Kysely<Database>): Promise<ChainHead | undefined> {
  const row = await db
    .selectFrom('audit_events')
    .select(['seq', 'hash'])
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst()
  if (row === undefined) return undefined
  // a head without a hash (a record from before the chain) chains as the genesis would
  return { seq: Number(row.seq), hash: row.hash ?? GENESIS_HASH }
}

async function lockHead(trx: Kysely<Database>): Promise<void> {
  if (dialectOf(trx as Kysely<unknown>) !== 'postgres') return
  await trx.selectFrom('audit_head').select('id').where('id', '=', 1).forUpdate().execute()
}

/**
 * Chains the records written before the chain existed (migration 004), once: only while no record
 * has a hash yet. Afterwards an unhashed record is damage for `verify` to report, never something
 * to seal, or nulling a hash and restarting would launder an edit.
 */
export async function sealUnchained(db: Kysely<Database>, key: Uint8Array): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await lockHead(trx)
    const hashed = await trx
      .selectFrom('audit_events')
      .select('seq')
      .where('hash', 'is not', null)
      .limit(1)
      .executeTakeFirst()
    if (hashed !== undefined) return 0
    const rows = await trx.selectFrom('audit_events').selectAll().orderBy('seq').execute()
    let prev = GENESIS_HASH
    for (const row of rows) {
      const chained: ChainedRow = { ...row, seq: Number(row.seq), prev_hash: prev }
      prev = hashRecord(key, chained)
      await trx
        .updateTable('audit_events')
        .set({ prev_hash: chained.prev_hash, hash: prev })
        .where('seq', '=', chained.seq)
        .execute()
    }
    return rows.length
  })
}
