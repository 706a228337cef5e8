import { canonicalJson } from '../config/config-hash.js'
import type { DependentConfig, KeyConfig, KeyrotorConfig } from '../config/schema.js'
import type { EngineDeps } from '../engine/engine-deps.js'
import { KeyrotorError } from '../errors.js'
import type { Executor } from '../store/database.js'
import { insertDependent, updateDependent } from '../store/dependents-repository.js'
import { activeVersionOf } from '../store/keys-repository.js'
import { decodeNotify, decodePolicy, decodeProbe, encodePolicy } from '../store/key-columns.js'

/** What applying a config does to one key that is already managed. */
export interface KeyChange {
  key: KeyConfig
  /** The version the key's aliases point at: where a new alias points too. */
  activeVersion: number
  settings: boolean
  addAliases: string[]
  insertDependents: DependentConfig[]
  updateDependents: DependentConfig[]
  removeDependents: string[]
}

/** How the store must change to match a config: keys to enroll and managed keys to update. */
export interface SyncPlan {
  enroll: KeyConfig[]
  change: KeyChange[]
}

const same = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b)

/**
 * Compares `next` with the managed keys in the store. Throws BAD_REQUEST, naming the key, for
 * what a config change cannot do safely: drop a managed key, change its provider or algorithm,
 * or remove or rename an alias (the provider's alias would be left pointing at the key).
 */
export async function planSync(db: Executor, next: KeyrotorConfig): Promise<SyncPlan> {
  const keys = await db.selectFrom('keys').selectAll().orderBy('id').execute()
  const declared = new Map(next.keys.map((k) => [k.id, k]))
  const dropped = keys.filter((k) => !declared.has(k.id)).map((k) => k.id)
  if (dropped.length > 0) {
    throw new KeyrotorError(
      'BAD_REQUEST',
      `key(s) ${dropped.join(', ')} are managed and have versions, so they cannot be removed from the ` +
        'configuration: a key leaves management only by a decommission flow, which keyrotor does not ' +
        'have yet; keep them in the file',
    )
  }
  const plan: SyncPlan = { enroll: [], change: [] }
  for (const key of next.keys) {
    const row = keys.find((k) => k.id === key.id)
    if (row === undefined) {
      plan.enroll.push(key)
      continue
    }
    if (row.provider !== key.provider || row.algorithm !== key.algorithm) {
      throw new KeyrotorError(
        'BAD_REQUEST',
        `keys[${key.id}]: provider and algorithm of a managed key are fixed (${row.provider}/${row.algorithm}); ` +
          'declare a new key instead',
      )
    }
    const change = await planKey(db, key, row)
    if (change !== undefined) plan.change.push(change)
  }
  return plan
}

async function planKey(
  db: Executor,
  key: KeyConfig,
  row: { owner: string; policy: string },
): Promise<KeyChange | undefined> {
  const aliases = await db.selectFrom('key_aliases').selectAll().where('key_id', '=', key.id).execute()
  const removed = aliases.filter((a) => !key.aliases.includes(a.name)).map((a) => a.name)
  if (removed.length > 0) {
    throw new KeyrotorError(
      'BAD_REQUEST',
      `keys[${key.id}].aliases: removing or renaming alias(es) ${removed.join(', ')} is not supported ` +
        '(the provider alias would keep pointing at the key); only new aliases can be added',
    )
  }
  const active = await activeVersionOf(db, key.id)
  const dependents = await db.selectFrom('dependents').selectAll().where('key_id', '=', key.id).execute()
  const stored = new Map(dependents.map((d) => [d.name, d]))
  const change: KeyChange = {
    key,
    activeVersion: active ?? aliases[0]?.version ?? 1,
    settings: row.owner !== key.owner || !same(decodePolicy(row.policy, key.id), key.policy),
    addAliases: key.aliases.filter((name) => !aliases.some((a) => a.name === name)),
    insertDependents: key.dependents.filter((d) => !stored.has(d.name)),
    updateDependents: key.dependents.filter((d) => {
      const s = stored.get(d.name)
      return (
        s !== undefined &&
        (!same(decodeProbe(s), d.probe) ||
          !same(decodeNotify(s) ?? null, d.notify ?? null) ||
          s.critical !== (d.critical ? 1 : 0))
      )
    }),
    removeDependents: dependents
      .filter((d) => !key.dependents.some((k) => k.name === d.name))
      .map((d) => d.name),
  }
  const changed =
    change.settings ||
    change.addAliases.length + change.insertDependents.length + change.updateDependents.length > 0 ||
    change.removeDependents.length > 0
  return changed ? change : undefined
}

/** CONFLICT naming the run when a key the plan changes has a run that is not finished. */
export async function assertNoRunsOn(db: Executor, plan: SyncPlan): Promise<void> {
  const ids = plan.change.map((c) => c.key.id)
  if (ids.length === 0) return
  const busy = await db
    .selectFrom('runs')
    .select(['id', 'key_id', 'state'])
    .where('active_key', 'in', ids)
    .execute()
  if (busy.length > 0) {
    const which = busy.map((r) => `${r.key_id} (run ${r.id}, ${r.state})`).join(', ')
    throw new KeyrotorError(
      'CONFLICT',
      `the change touches key(s) with a run in progress: ${which}; apply it once the run has ended`,
      { details: { runs: busy.map((r) => r.id) } },
    )
  }
}

/**
 * Points new aliases of managed keys at their active version at the provider. Done before the
 * store transaction (provider calls never run inside one); setting an alias is idempotent, so a
 * failed apply is repaired by applying again.
 */
export async function prepareProviders(deps: Pick<EngineDeps, 'providers'>, plan: SyncPlan): Promise<void> {
  for (const c of plan.change) {
    const ref = { keyId: c.key.id, algorithm: c.key.algorithm }
    const provider = deps.providers.get(c.key.provider)
    for (const alias of c.addAliases) await provider.setAlias(ref, alias, c.activeVersion)
  }
}

/** Writes the plan's changes to managed keys (enrollment is separate: see config-changes). */
export async function writeChanges(trx: Executor, plan: SyncPlan, at: string): Promise<void> {
  for (const c of plan.change) {
    const keyId = c.key.id
    if (c.settings) {
      await trx
        .updateTable('keys')
        .set({ owner: c.key.owner, policy: encodePolicy(c.key.policy), updated_at: at })
        .where('id', '=', keyId)
        .execute()
    }
    for (const name of c.addAliases) {
      await trx.insertInto('key_aliases').values({ name, key_id: keyId, version: c.activeVersion }).execute()
    }
    if (c.removeDependents.length > 0) {
      await trx
        .deleteFrom('dependents')
        .where('key_id', '=', keyId)
        .where('name', 'in', c.removeDependents)
        .execute()
    }
    for (const d of c.updateDependents) await updateDependent(trx, keyId, d)
    for (const d of c.insertDependents) await insertDependent(trx, keyId, d)
  }
}

/** A short account of the plan for the audit record and the apply answer. */
export function describePlan(plan: SyncPlan): Record<string, unknown> {
  return {
    enrolled: plan.enroll.map((k) => k.id),
    changed: plan.change.map((c) => ({
      key: c.key.id,
      settings: c.settings,
      addedAliases: c.addAliases,
      addedDependents: c.insertDependents.map((d) => d.name),
      updatedDependents: c.updateDependents.map((d) => d.name),
      removedDependents: c.removeDependents,
    })),
  }
}
