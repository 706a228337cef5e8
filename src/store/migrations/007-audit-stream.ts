import type { Kysely } from 'kysely'

/**
 * Audit streaming: one cursor per configured audit sink. The audit table is itself the durable
 * outbox (records are committed in seq order under the chain's head lock), so a sink only needs
 * the last seq it received: a restart or another instance resumes from there, and a sink that is
 * down only lets its own cursor fall behind. `leased_until` keeps two instances from sending one
 * sink's records at once.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('audit_stream_cursors')
    .addColumn('sink', 'text', (c) => c.primaryKey())
    .addColumn('sink_type', 'text', (c) => c.notNull())
    .addColumn('delivered_seq', 'bigint', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('leased_until', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute()
}

export async function down(): Promise<void> {
  throw new Error('keyrotor migrations only go forward')
}
