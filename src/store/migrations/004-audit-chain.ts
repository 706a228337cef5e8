import { sql, type Kysely } from 'kysely'

/**
 * Tamper-evident audit: each record carries the hash of the one before it and its own HMAC
 * (src/audit/chain.ts). `audit_head` is a one-row table that appenders lock (FOR UPDATE on
 * PostgreSQL) so that concurrent transactions extend the chain one at a time, in seq order.
 * The columns are nullable because SQLite cannot add NOT NULL columns to a filled table; records
 * written before this migration are chained once at start (see sealUnchained in audit-log.ts).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('audit_events').addColumn('prev_hash', 'text').execute()
  await db.schema.alterTable('audit_events').addColumn('hash', 'text').execute()
  await db.schema
    .createTable('audit_head')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .execute()
  await sql`INSERT INTO audit_head (id) VALUES (1)`.execute(db)
}

export async function down(): Promise<void> {
  throw new Error('keyrotor migrations only go forward')
}
