import type { Kysely } from 'kysely'

/**
 * Indexes for reads whose cost grew with the store (bench/scale.ts, docs/benchmarks.md "Scale"):
 * - the newest runs (`GET /v1/runs` without a filter orders by created_at, id): without this index
 *   every call sorted all runs;
 * - a timeline gathers alerts, approvals and incidents by correlation id: each was a full scan;
 * - alerts newest first (`GET /v1/alerts` orders by updated_at), for a paged alerts list.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('runs_by_created').on('runs').columns(['created_at', 'id']).execute()
  await db.schema.createIndex('alerts_by_correlation').on('alerts').column('correlation_id').execute()
  await db.schema.createIndex('alerts_by_updated').on('alerts').columns(['updated_at', 'id']).execute()
  await db.schema.createIndex('approvals_by_correlation').on('approvals').column('correlation_id').execute()
  await db.schema.createIndex('incidents_by_correlation').on('incidents').column('correlation_id').execute()
}

export async function down(): Promise<void> {
  throw new Error('keyrotor migrations only go forward')
}
