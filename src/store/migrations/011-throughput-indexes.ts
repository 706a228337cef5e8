import type { Kysely } from 'kysely'

/**
 * Every run that succeeds resolves the failure alerts of its earlier attempts by run id
 * (`alerts.resolve({ runId })`, in the transaction that records the success). Without this index
 * that update scanned every alert ever raised, so each success cost more as the alerts table grew.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('alerts_by_run').on('alerts').columns(['run_id', 'state']).execute()
}

export async function down(): Promise<void> {
  throw new Error('keyrotor migrations only go forward')
}
