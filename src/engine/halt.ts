import type { Executor } from '../store/runs-repository.js'

/** The global stop switch (DESIGN §1): while engaged, no run starts a phase. */
export interface HaltStatus {
  engaged: boolean
  reason: string | null
  by: string | null
  since: string | null
}

export async function readHalt(db: Executor): Promise<HaltStatus> {
  const row = await db.selectFrom('halt').selectAll().where('id', '=', 1).executeTakeFirstOrThrow()
  return { engaged: row.engaged === 1, reason: row.reason, by: row.engaged_by, since: row.since }
}

/** Engages the halt inside the caller's transaction, so it lands with what caused it. */
export async function engageHalt(db: Executor, by: string, reason: string, at: string): Promise<void> {
  await db
    .updateTable('halt')
    .set({ engaged: 1, reason, engaged_by: by, since: at })
    .where('id', '=', 1)
    .where('engaged', '=', 0)
    .execute()
}
