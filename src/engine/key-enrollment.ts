import type { KeyConfig } from '../config/schema.js'
import type { Executor } from '../store/database.js'
import { encodeNotify, encodePolicy, encodeProbe } from '../store/key-columns.js'
import type { EngineDeps } from './engine-deps.js'

/**
 * Brings a declared key under management: version 1 is created at its provider and made active,
 * its aliases point at it, its dependents are registered. A key that exists already is left as
 * it is. The provider calls are idempotent, so a crash half-way is repaired by enrolling again.
 */
export async function enrollKey(
  deps: Pick<EngineDeps, 'db' | 'providers' | 'audit' | 'now'>,
  key: KeyConfig,
  context: { actor: string; configVersion: number },
): Promise<boolean> {
  const exists = await deps.db.selectFrom('keys').select('id').where('id', '=', key.id).executeTakeFirst()
  if (exists !== undefined) return false
  const provider = deps.providers.get(key.provider)
  const ref = { keyId: key.id, algorithm: key.algorithm }
  const first = (await provider.describeVersion(ref, 1)) ?? (await provider.createVersion(ref, 1))
  for (const alias of key.aliases) await provider.setAlias(ref, alias, 1)
  const at = deps.now().toISOString()
  await deps.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('keys')
      .values({
        id: key.id,
        provider: key.provider,
        algorithm: key.algorithm,
        owner: key.owner,
        policy: encodePolicy(key.policy),
        created_at: at,
        updated_at: at,
      })
      .execute()
    await trx
      .insertInto('key_versions')
      .values({
        key_id: key.id,
        version: 1,
        state: 'active',
        compromised: 0,
        provider_ref: first.providerRef,
        created_at: at,
        updated_at: at,
        revoke_started_at: null,
        revoke_due_at: null,
      })
      .execute()
    for (const alias of key.aliases) {
      await trx.insertInto('key_aliases').values({ name: alias, key_id: key.id, version: 1 }).execute()
    }
    await registerDependents(trx, key)
    await deps.audit.append(trx, {
      actor: context.actor,
      action: 'key.enrolled',
      target: key.id,
      details: { provider: key.provider, algorithm: key.algorithm, configVersion: context.configVersion },
    })
  })
  return true
}

async function registerDependents(trx: Executor, key: KeyConfig): Promise<void> {
  for (const d of key.dependents) {
    await trx
      .insertInto('dependents')
      .values({
        key_id: key.id,
        name: d.name,
        critical: d.critical ? 1 : 0,
        probe: encodeProbe(d.probe),
        // only the name of the secret's variable is stored, never its value
        notify: encodeNotify(d.notify),
        last_probe_at: null,
        last_accepts: null,
        last_active: null,
        last_error: null,
        last_notice: null,
        last_notice_at: null,
      })
      .execute()
  }
}
