import type { Kysely } from 'kysely'

/**
 * Aliases are read by key (every run loads its key's aliases, validate reads them again); without
 * this index each read scanned every alias, so a run's cost grew with the number of keys.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('key_aliases_by_key').on('key_aliases').columns(['key_id', 'name']).execute()
}

export async function down(): Promise<void> {
  throw new Error('keyrotor migrations only go forward')
}
