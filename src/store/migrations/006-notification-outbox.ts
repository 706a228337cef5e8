import type { Kysely } from 'kysely'

/**
 * The notification outbox: one row per (alert or incident change, configured sink), written in
 * the transaction of the change itself and drained by a background loop. A sink that is down
 * delays only its own rows; a restart finds what was not delivered yet. Rows hold the payload and
 * a sink id, never a URL or a secret: both are resolved from the active config at delivery.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('notification_outbox')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('sink', 'text', (c) => c.notNull())
    .addColumn('sink_type', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('delivered_at', 'text')
    .execute()
  await db.schema
    .createIndex('notification_outbox_due')
    .on('notification_outbox')
    .columns(['state', 'created_at'])
    .execute()
}

export async function down(): Promise<void> {
  throw new Error('keyrotor migrations only go forward')
}
