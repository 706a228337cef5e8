import type { KeyConfig } from '../../config/schema.js'
import { insertDependent } from '../../store/dependents-repository.js'
import { findKey } from '../../store/keys-repository.js'
import type { EngineDeps } from '../engine-deps.js'
import { encodePolicy } from '../../store/key-columns.js'

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
  if ((await findKey(deps.db, key.id)) !== undefined) return false
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
    for (const d of key.dependents) await insertDependent(trx, key.id, d)
    await deps.audit.append(trx, {
      actor: context.actor,
      action: 'key.enrolled',
      target: key.id,
      details: { provider: key.provider, algorithm: key.algorithm, configVersion: context.configVersion },
    })
  })
  return true
}
