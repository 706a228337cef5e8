import type { Kysely } from 'kysely'

/**
 * The ticket each ticketing sink opened for each incident (GitHub issue number, Jira issue key,
 * ServiceNow sys_id, a templated API's id). Comments and the close go to that ticket, and an
 * opening delivered again after a retry finds it here instead of opening a second ticket. The
 * sink column is the sink's id (no URL, no credential), as in the outbox.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('incident_tickets')
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('sink', 'text', (c) => c.notNull())
    .addColumn('sink_type', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addColumn('external_url', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('incident_tickets_pk', ['incident_id', 'sink'])
    .execute()
}

export async function down(): Promise<void> {
  throw new Error('keyrotor migrations only go forward')
}
