import type { Kysely } from 'kysely'

/**
 * Keyset paging of the list routes (store/keyset-page.ts): each list is read in the order of an
 * index, starting after the previous page's last row, so a page costs its own size whatever the
 * history holds. One index per order and per filter that narrows a large list (runs by key or
 * state); the short lists (approvals, proposals, tokens) get their order only.
 */
const INDEXES: readonly (readonly [name: string, table: string, columns: string[]])[] = [
  ['runs_paging', 'runs', ['created_at', 'id']],
  ['runs_by_key_paging', 'runs', ['key_id', 'created_at', 'id']],
  ['runs_by_state_paging', 'runs', ['state', 'created_at', 'id']],
  ['alerts_paging', 'alerts', ['updated_at', 'id']],
  ['alerts_by_state_paging', 'alerts', ['state', 'updated_at', 'id']],
  ['incidents_paging', 'incidents', ['opened_at', 'id']],
  ['approvals_paging', 'approvals', ['created_at', 'id']],
  ['config_proposals_paging', 'config_proposals', ['created_at', 'id']],
  ['tokens_paging', 'tokens', ['created_at', 'id']],
  // the audit list is in seq order already (its key); `since`/`until` find their first record here
  ['audit_by_time', 'audit_events', ['at', 'seq']],
]

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const [name, table, columns] of INDEXES) {
    await db.schema.createIndex(name).on(table).columns(columns).execute()
  }
}

export async function down(): Promise<void> {
  throw new Error('keyrotor migrations only go forward')
}
