import type { Kysely } from 'kysely'

/**
 * Indexes for reads whose cost grew with the store (bench/scale.ts, docs/benchmarks.md "Scale"):
 * a timeline gathers alerts, approvals and incidents by correlation id, and each was a full scan.
 * (The newest runs and alerts are read through the paging indexes of migration 010.)
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('alerts_by_correlation').on('alerts').column('correlation_id').execute()
  await db.schema.createIndex('approvals_by_correlation').on('approvals').column('correlation_id').execute()
  await db.schema.createIndex('incidents_by_correlation').on('incidents').column('correlation_id').execute()
}

export async function down(): Promise<void> {
  throw new Error('keyrotor migrations only go forward')
}
