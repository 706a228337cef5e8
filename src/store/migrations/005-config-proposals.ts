import type { Kysely } from 'kysely'

/**
 * Configuration change management: a proposed keyrotor.yaml with its diff against the version it
 * was made on, its approval and, once applied, the config version it became. The YAML holds only
 * the names of environment variables that carry secrets, never a secret itself.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('config_proposals')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    // the active version when proposed: apply refuses a proposal whose base is no longer active
    .addColumn('base_version', 'integer', (c) => c.notNull())
    .addColumn('diff', 'text', (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('rollback_plan', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('proposed_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('approval_id', 'text', (c) => c.notNull())
    .addColumn('approved_by', 'text')
    .addColumn('approved_at', 'text')
    .addColumn('applied_by', 'text')
    .addColumn('applied_at', 'text')
    // one proposal becomes at most one version, and a version comes from at most one proposal
    .addColumn('applied_version', 'integer', (c) => c.unique())
    .addColumn('decided_at', 'text')
    .execute()
  await db.schema
    .createIndex('config_proposals_by_state')
    .on('config_proposals')
    .columns(['state', 'created_at'])
    .execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('config_proposals').execute()
}
