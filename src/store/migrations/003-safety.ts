import type { Kysely } from 'kysely'

/**
 * Safety under failure: four-eyes approvals, incidents, recorded consistency checks, frozen
 * keys (an unexpected provider-side transition) and cancel requests on running runs.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('approvals')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    // sha256 of the exact action approved: approving one thing never executes another
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('required_roles', 'text', (c) => c.notNull())
    .addColumn('run_id', 'text')
    .addColumn('correlation_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('decided_at', 'text')
    .execute()
  await db.schema.createIndex('approvals_by_state').on('approvals').columns(['state', 'created_at']).execute()

  await db.schema
    .createTable('approval_decisions')
    .addColumn('approval_id', 'text', (c) => c.notNull().references('approvals.id'))
    .addColumn('by_user', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('decision', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('at', 'text', (c) => c.notNull())
    // one decision per person: the same person cannot count twice
    .addPrimaryKeyConstraint('approval_decisions_pk', ['approval_id', 'by_user'])
    .execute()

  await db.schema
    .createTable('incidents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('correlation_id', 'text')
    .addColumn('run_id', 'text')
    .addColumn('key_id', 'text')
    .addColumn('escalated_to', 'text', (c) => c.notNull())
    .addColumn('opened_at', 'text', (c) => c.notNull())
    .addColumn('closed_at', 'text')
    .addColumn('closed_by', 'text')
    .addColumn('rca', 'text')
    .execute()

  await db.schema
    .createTable('verifications')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text')
    .addColumn('run_id', 'text')
    .addColumn('passed', 'integer', (c) => c.notNull())
    .addColumn('mismatches', 'text', (c) => c.notNull())
    .addColumn('by_user', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('verifications_by_run').on('verifications').columns(['run_id', 'at']).execute()
  await db.schema.createIndex('verifications_by_key').on('verifications').columns(['key_id', 'at']).execute()

  await db.schema.alterTable('keys').addColumn('frozen_at', 'text').execute()
  await db.schema.alterTable('keys').addColumn('frozen_reason', 'text').execute()
  await db.schema.alterTable('runs').addColumn('cancel_requested_at', 'text').execute()
  await db.schema.alterTable('runs').addColumn('approval_id', 'text').execute()
}

export async function down(): Promise<void> {
  throw new Error('keyrotor migrations only go forward')
}
