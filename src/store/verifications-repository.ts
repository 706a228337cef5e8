import { randomUUID } from 'node:crypto'
import type { Executor } from './database.js'
import { encodeMismatches } from './run-columns.js'

/** One verify as it is recorded: of a key, of a run's key, or of every key (`all`). */
export interface NewVerification {
  scope: 'key' | 'run' | 'all'
  keyId: string | null
  runId: string | null
  passed: boolean
  mismatches: readonly string[]
  byUser: string
  at: string
}

/** Records a verify: a retry needs a passed one of its run since it failed. */
export async function recordVerification(db: Executor, v: NewVerification): Promise<void> {
  await db
    .insertInto('verifications')
    .values({
      id: randomUUID(),
      scope: v.scope,
      key_id: v.keyId,
      run_id: v.runId,
      passed: v.passed ? 1 : 0,
      mismatches: encodeMismatches(v.mismatches),
      by_user: v.byUser,
      at: v.at,
    })
    .execute()
}

/** Whether a verify of run `runId` passed after `since` (DESIGN §4.6: what a retry needs). */
export async function hasPassedVerificationSince(
  db: Executor,
  runId: string,
  since: string,
): Promise<boolean> {
  const verified = await db
    .selectFrom('verifications')
    .select('at')
    .where('run_id', '=', runId)
    .where('passed', '=', 1)
    .where('at', '>', since)
    .executeTakeFirst()
  return verified !== undefined
}
