import { sql, type ColumnDefinitionBuilder, type Kysely } from 'kysely'
import { dialectOf } from '../dialect.js'

/** The first schema. Works on SQLite and PostgreSQL alike: text times, integer booleans. */
export async function up(db: Kysely<unknown>): Promise<void> {
  // an ever-rising integer key: the cursor of event streams and the order of the audit chain
  const identity = (c: ColumnDefinitionBuilder) =>
    dialectOf(db) === 'postgres'
      ? c.primaryKey().generatedByDefaultAsIdentity()
      : c.primaryKey().autoIncrement()

  await db.schema
    .createTable('keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('algorithm', 'text', (c) => c.notNull())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('policy', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('key_versions')
    .addColumn('key_id', 'text', (c) => c.notNull().references('keys.id'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('compromised', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('provider_ref', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('revoke_started_at', 'text')
    .addColumn('revoke_due_at', 'text')
    .addPrimaryKeyConstraint('key_versions_pk', ['key_id', 'version'])
    .execute()
  // exactly one active version per key, enforced by the database
  await sql`CREATE UNIQUE INDEX key_versions_one_active ON key_versions (key_id) WHERE state = 'active'`.execute(
    db,
  )
  await sql`CREATE INDEX key_versions_revoke_due ON key_versions (revoke_due_at) WHERE state = 'retiring'`.execute(
    db,
  )

  await db.schema
    .createTable('key_aliases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('key_id', 'text', (c) => c.notNull().references('keys.id'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('dependents')
    .addColumn('key_id', 'text', (c) => c.notNull().references('keys.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('critical', 'integer', (c) => c.notNull())
    .addColumn('probe', 'text', (c) => c.notNull())
    .addColumn('notify', 'text')
    .addColumn('last_probe_at', 'text')
    .addColumn('last_accepts', 'text')
    .addColumn('last_active', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('last_notice', 'text')
    .addColumn('last_notice_at', 'text')
    .addPrimaryKeyConstraint('dependents_pk', ['key_id', 'name'])
    .execute()

  await db.schema
    .createTable('runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('key_id', 'text', (c) => c.notNull().references('keys.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('phase', 'text', (c) => c.notNull())
    .addColumn('phase_status', 'text', (c) => c.notNull())
    .addColumn('from_version', 'integer')
    .addColumn('to_version', 'integer')
    .addColumn('correlation_id', 'text', (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.unique())
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('priority', 'integer', (c) => c.notNull())
    .addColumn('attempt', 'integer')
    .addColumn('failure_class', 'text')
    .addColumn('failure_phase', 'text')
    .addColumn('failure_message', 'text')
    .addColumn('duplicate_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('validation', 'text')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'text')
    .addColumn('fencing_token', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('not_before', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('active_key', 'text', (c) => c.unique())
    .execute()
  await db.schema
    .createIndex('runs_by_state')
    .on('runs')
    .columns(['state', 'priority', 'created_at'])
    .execute()
  await db.schema.createIndex('runs_by_key').on('runs').columns(['key_id', 'created_at']).execute()
  await db.schema.createIndex('runs_by_correlation').on('runs').column('correlation_id').execute()

  await db.schema
    .createTable('run_events')
    .addColumn('id', 'integer', identity)
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('correlation_id', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('phase', 'text')
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('data', 'text')
    .execute()
  await db.schema.createIndex('run_events_by_run').on('run_events').columns(['run_id', 'id']).execute()
  await db.schema
    .createIndex('run_events_by_correlation')
    .on('run_events')
    .columns(['correlation_id', 'id'])
    .execute()

  await db.schema
    .createTable('audit_events')
    .addColumn('seq', 'integer', identity)
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text')
    .addColumn('correlation_id', 'text')
    .addColumn('reason', 'text')
    .addColumn('details', 'text')
    .execute()
  await db.schema.createIndex('audit_by_correlation').on('audit_events').column('correlation_id').execute()

  await db.schema
    .createTable('tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text')
    .addColumn('hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text')
    .addColumn('revoked_at', 'text')
    .addColumn('last_used_at', 'text')
    .execute()

  await db.schema
    .createTable('config_versions')
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('active', 'integer', (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('alerts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text')
    .addColumn('run_id', 'text')
    .addColumn('correlation_id', 'text')
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('dedup_key', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('halt')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('engaged', 'integer', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('engaged_by', 'text')
    .addColumn('since', 'text')
    .execute()
  await sql`INSERT INTO halt (id, engaged) VALUES (1, 0)`.execute(db)

  await db.schema
    .createTable('local_keystore')
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('algorithm', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('sealed_material', 'text', (c) => c.notNull())
    .addColumn('public_jwk', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('local_keystore_pk', ['key_id', 'version'])
    .execute()

  await db.schema
    .createTable('local_aliases')
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('alias', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('local_aliases_pk', ['alias'])
    .execute()
}

export async function down(): Promise<void> {
  throw new Error('keyrotor migrations only go forward')
}
