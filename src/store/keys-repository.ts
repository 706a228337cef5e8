import type { VersionState } from '../domain/lifecycle.js'
import { KeyrotorError } from '../errors.js'
import type { Page } from './keyset-page.js'
import type { Executor } from './database.js'
import { encodeAccepts } from './key-columns.js'
import type { DependentRow, KeyRow, KeyVersionRow, KeyVersionsTable } from './tables.js'
import { sql, type Updateable } from 'kysely'

export async function findKey(db: Executor, id: string): Promise<KeyRow | undefined> {
  return db.selectFrom('keys').selectAll().where('id', '=', id).executeTakeFirst()
}

export async function requireKey(db: Executor, id: string): Promise<KeyRow> {
  const key = await findKey(db, id)
  if (key === undefined) throw new KeyrotorError('UNKNOWN_KEY', `unknown key "${id}"`)
  return key
}

export async function listKeys(db: Executor): Promise<KeyRow[]> {
  return db.selectFrom('keys').selectAll().orderBy('id').execute()
}

/** How to page through keys: ids containing `search`, after `cursor` (an id), at most `limit`. */
export interface KeyPage {
  limit?: number | undefined
  cursor?: string | undefined
  search?: string | undefined
}

/**
 * One page of keys in id order; an empty `page` is every key (the same as `listKeys`). The
 * cursor is a key id, as it always was: the next page's is the page's last id.
 */
export async function listKeysPage(db: Executor, page: KeyPage): Promise<Page<KeyRow>> {
  let query = db.selectFrom('keys').selectAll().orderBy('id')
  if (page.cursor !== undefined) query = query.where('id', '>', page.cursor)
  if (page.search !== undefined && page.search !== '') {
    // a literal substring, case-insensitive: the LIKE wildcards a user types are escaped
    const pattern = `%${page.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
    query = query.where(
      sql<boolean>`(lower(id) like ${pattern} escape '\\' or lower(owner) like ${pattern} escape '\\')`,
    )
  }
  if (page.limit === undefined) return { items: await query.execute(), nextCursor: undefined }
  // one row more than asked tells whether a next page exists without a count
  const rows = await query.limit(page.limit + 1).execute()
  const items = rows.slice(0, page.limit)
  return { items, nextCursor: rows.length > page.limit ? items.at(-1)?.id : undefined }
}

export async function listVersions(db: Executor, keyId: string): Promise<KeyVersionRow[]> {
  return db.selectFrom('key_versions').selectAll().where('key_id', '=', keyId).orderBy('version').execute()
}

export async function listAliases(db: Executor, keyId: string): Promise<{ name: string; version: number }[]> {
  return db
    .selectFrom('key_aliases')
    .select(['name', 'version'])
    .where('key_id', '=', keyId)
    .orderBy('name')
    .execute()
}

export async function listDependents(db: Executor, keyId: string): Promise<DependentRow[]> {
  return db.selectFrom('dependents').selectAll().where('key_id', '=', keyId).orderBy('name').execute()
}

/**
 * The versions, aliases and dependents of several keys in three queries (a fleet page would
 * otherwise cost three per key), grouped by key id.
 */
export async function listKeyPartsOf(
  db: Executor,
  keyIds: readonly string[],
): Promise<{
  versions: Map<string, KeyVersionRow[]>
  aliases: Map<string, { name: string; version: number }[]>
  dependents: Map<string, DependentRow[]>
}> {
  if (keyIds.length === 0) return { versions: new Map(), aliases: new Map(), dependents: new Map() }
  const [versions, aliases, dependents] = await Promise.all([
    db.selectFrom('key_versions').selectAll().where('key_id', 'in', keyIds).orderBy('version').execute(),
    db
      .selectFrom('key_aliases')
      .select(['key_id', 'name', 'version'])
      .where('key_id', 'in', keyIds)
      .orderBy('name')
      .execute(),
    db.selectFrom('dependents').selectAll().where('key_id', 'in', keyIds).orderBy('name').execute(),
  ])
  return {
    versions: groupBy(versions, (row) => row.key_id),
    aliases: groupBy(
      aliases.map(({ key_id, name, version }) => ({ key_id, alias: { name, version } })),
      (row) => row.key_id,
      (row) => row.alias,
    ),
    dependents: groupBy(dependents, (row) => row.key_id),
  }
}

function groupBy<T, V = T>(
  rows: readonly T[],
  keyOf: (row: T) => string,
  valueOf?: (row: T) => V,
): Map<string, V[]> {
  const groups = new Map<string, V[]>()
  for (const row of rows) {
    const value = valueOf === undefined ? (row as unknown as V) : valueOf(row)
    const group = groups.get(keyOf(row))
    if (group === undefined) groups.set(keyOf(row), [value])
    else group.push(value)
  }
  return groups
}

/**
 * Moves one version from `from` to `to` as a compare-and-set: if the store no longer holds the
 * state the phase decided on, nothing changes and the phase fails as a state inconsistency.
 */
export async function moveVersion(
  db: Executor,
  keyId: string,
  version: number,
  from: VersionState,
  to: VersionState,
  at: string,
  extra: Updateable<KeyVersionsTable> = {},
): Promise<void> {
  const result = await db
    .updateTable('key_versions')
    .set({ ...extra, state: to, updated_at: at })
    .where('key_id', '=', keyId)
    .where('version', '=', version)
    .where('state', '=', from)
    .executeTakeFirst()
  if (result.numUpdatedRows !== 1n) {
    throw new KeyrotorError(
      'CONFLICT',
      `key ${keyId} v${version} is no longer ${from}; it was not moved to ${to}`,
    )
  }
}

export async function pointAlias(db: Executor, keyId: string, name: string, version: number): Promise<void> {
  await db
    .updateTable('key_aliases')
    .set({ version })
    .where('name', '=', name)
    .where('key_id', '=', keyId)
    .execute()
}

export interface DependentObservation {
  keyId: string
  name: string
  at: string
  answer?: { accepts: number[]; active: number | null } | undefined
  error?: string | undefined
  notice?: string | undefined
}

/** Records a dependent's last probe answer (or the error instead of one) and its last notice. */
export async function recordDependent(db: Executor, o: DependentObservation): Promise<void> {
  const patch: Updateable<DependentRow> = {}
  if (o.answer !== undefined) {
    patch.last_probe_at = o.at
    patch.last_accepts = encodeAccepts(o.answer.accepts)
    patch.last_active = o.answer.active
    patch.last_error = null
  }
  if (o.error !== undefined) {
    patch.last_probe_at = o.at
    patch.last_error = o.error
  }
  if (o.notice !== undefined) {
    patch.last_notice = o.notice
    patch.last_notice_at = o.at
  }
  if (Object.keys(patch).length === 0) return
  await db
    .updateTable('dependents')
    .set(patch)
    .where('key_id', '=', o.keyId)
    .where('name', '=', o.name)
    .execute()
}

/**
 * When and why `keyId` was frozen, or null when it is not: a state the store did not put at the
 * provider freezes a key, and nothing rotates it until a verify passes (DESIGN §4.6).
 */
export async function frozenSince(
  db: Executor,
  keyId: string,
): Promise<{ at: string; reason: string } | null> {
  const row = await db
    .selectFrom('keys')
    .select(['frozen_at', 'frozen_reason'])
    .where('id', '=', keyId)
    .executeTakeFirst()
  if (row?.frozen_at == null) return null
  return { at: row.frozen_at, reason: row.frozen_reason ?? '' }
}

/** Freezes `keyId`; a key frozen already keeps the time it was first frozen. */
export async function freezeKey(db: Executor, keyId: string, at: string, reason: string): Promise<void> {
  await db
    .updateTable('keys')
    .set({ frozen_at: sql<string>`coalesce(frozen_at, ${at})`, frozen_reason: reason })
    .where('id', '=', keyId)
    .execute()
}

/** Lifts the freeze of `keyId` (a verify passed). */
export async function thawKey(db: Executor, keyId: string): Promise<void> {
  await db.updateTable('keys').set({ frozen_at: null, frozen_reason: null }).where('id', '=', keyId).execute()
}

/** The version of `keyId` in state active (at most one: a partial unique index), if any. */
export async function activeVersionOf(db: Executor, keyId: string): Promise<number | undefined> {
  const active = await db
    .selectFrom('key_versions')
    .select('version')
    .where('key_id', '=', keyId)
    .where('state', '=', 'active')
    .executeTakeFirst()
  return active?.version
}

/** Retiring versions whose grace period is over and whose revoke has not started: due for a revoke run. */
export async function listDueRevokes(
  db: Executor,
  now: string,
  limit: number,
): Promise<{ key_id: string; version: number }[]> {
  return db
    .selectFrom('key_versions')
    .select(['key_id', 'version'])
    .where('state', '=', 'retiring')
    .where('revoke_started_at', 'is', null)
    .where('revoke_due_at', 'is not', null)
    .where('revoke_due_at', '<=', now)
    .orderBy('revoke_due_at')
    .limit(limit)
    .execute()
}
