import type { Executor } from './database.js'

/** The global stop switch (DESIGN §1): while engaged, no run starts a phase. */
export interface HaltStatus {
  engaged: boolean
  reason: string | null
  by: string | null
  since: string | null
}

export async function readHalt(db: Executor): Promise<HaltStatus> {
  const row = await db.selectFrom('halt').selectAll().where('id', '=', 1).executeTakeFirstOrThrow()
  return { engaged: Number(row.engaged) === 1, reason: row.reason, by: row.engaged_by, since: row.since }
}

/** Whether the halt is engaged: the one test every refusal and claim under the halt makes. */
export async function isHalted(db: Executor): Promise<boolean> {
  const row = await db.selectFrom('halt').select('engaged').where('id', '=', 1).executeTakeFirst()
  return Number(row?.engaged) === 1
}

/**
 * Engages the halt inside the caller's transaction, so it lands with what caused it. True when
 * this call engaged it; false when it already was (the first reason and time are kept).
 */
export async function engageHalt(db: Executor, by: string, reason: string, at: string): Promise<boolean> {
  const result = await db
    .updateTable('halt')
    .set({ engaged: 1, reason, engaged_by: by, since: at })
    .where('id', '=', 1)
    .where('engaged', '=', 0)
    .executeTakeFirst()
  return Number(result.numUpdatedRows) === 1
}

/**
 * Releases the halt inside the caller's transaction and returns the halt it released, or null
 * when none was engaged. The row forgets who engaged it and when: the caller keeps that in the
 * audit record written in the same transaction.
 */
export async function releaseHalt(db: Executor): Promise<HaltStatus | null> {
  const before = await readHalt(db)
  if (!before.engaged) return null
  const result = await db
    .updateTable('halt')
    .set({ engaged: 0, reason: null, engaged_by: null, since: null })
    .where('id', '=', 1)
    .where('engaged', '=', 1)
    .executeTakeFirst()
  return Number(result.numUpdatedRows) === 1 ? before : null
}
