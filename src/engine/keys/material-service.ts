import type { Algorithm } from '../../domain/algorithms.js'
import { isAsymmetric } from '../../domain/algorithms.js'
import { isKeyrotorError, KeyrotorError } from '../../errors.js'
import type { Jwk } from '../../providers/key-provider.js'
import { listVersions, requireKey } from '../../store/keys-repository.js'
import type { EngineDeps } from '../engine-deps.js'
import { createJwksCache } from './jwks-cache.js'
import type { JwksDocument } from './jwks-cache.js'
import { jwksMaxAgeMs } from './jwks-publication.js'
import { decodePolicy } from '../../store/key-columns.js'

/** `details.reason` of a refusal because the backend never lets material out (http/ answers 409). */
export const MATERIAL_HELD_BY_BACKEND = 'held-by-backend'

/**
 * The read side of key material: the public JWKS verifiers load, and the material a consumer
 * service bound to the key fetches (every fetch audited; never a disabled or destroyed version).
 */
export function createMaterialService(deps: Pick<EngineDeps, 'db' | 'providers' | 'audit'>) {
  async function resolve(keyId: string) {
    const key = await requireKey(deps.db, keyId)
    const ref = { keyId: key.id, algorithm: key.algorithm as Algorithm }
    return { key, ref, provider: deps.providers.get(key.provider) }
  }

  const cache = createJwksCache({
    load: async (keyId) => {
      const { key } = await resolve(keyId)
      const maxAgeMs = jwksMaxAgeMs(decodePolicy(key.policy, key.id))
      return { keys: (await service.jwks(keyId)).keys, maxAgeSeconds: Math.floor(maxAgeMs / 1000) }
    },
  })

  const service = {
    /** The JWKS as the public endpoint serves it: from memory, with its ETag and max-age. */
    jwksDocument(keyId: string): Promise<JwksDocument> {
      return cache.get(keyId)
    },

    /** The key's versions changed here: serve a fresh JWKS from the next request on. */
    jwksChanged(keyId: string): void {
      cache.invalidate(keyId)
    },

    /** Public keys of pending, active and retiring versions, except one whose revoke has begun. */
    async jwks(keyId: string): Promise<{ keys: Jwk[] }> {
      const { ref, provider } = await resolve(keyId)
      if (!isAsymmetric(ref.algorithm)) return { keys: [] }
      const published = (await listVersions(deps.db, keyId)).filter(
        (v) =>
          v.state === 'pending' ||
          v.state === 'active' ||
          (v.state === 'retiring' && v.revoke_started_at === null),
      )
      const keys: Jwk[] = []
      for (const v of published) {
        const jwk = await provider.publicJwk(ref, v.version)
        if (jwk !== null) keys.push(jwk)
      }
      return { keys }
    },

    async material(
      keyId: string,
      version: number,
      caller: { user: string; tokenId: string; correlationId: string },
    ): Promise<Jwk> {
      const { key, ref, provider } = await resolve(keyId)
      const row = (await listVersions(deps.db, keyId)).find((v) => v.version === version)
      if (row === undefined) throw new KeyrotorError('NOT_FOUND', `key ${keyId} has no version ${version}`)
      if (row.state === 'disabled' || row.state === 'destroyed') {
        throw new KeyrotorError(
          'MATERIAL_UNAVAILABLE',
          `key ${keyId} v${version} is ${row.state}; its material is not served`,
        )
      }
      const jwk = await provider.exportMaterial(ref, version).catch(async (error: unknown) => {
        if (!isKeyrotorError(error, 'MATERIAL_UNAVAILABLE')) throw error
        // refused while enabled at the backend too: the backend keeps its material (HSM, KMS)
        const atBackend = await provider.describeVersion(ref, version).catch(() => null)
        if (atBackend?.state !== 'enabled') throw error
        throw new KeyrotorError(
          'MATERIAL_UNAVAILABLE',
          `key ${keyId} v${version} lives on provider "${key.provider}", whose material never leaves it; ` +
            'use the version through the backend (its providerRef)',
          { details: { reason: MATERIAL_HELD_BY_BACKEND, providerRef: row.provider_ref }, cause: error },
        )
      })
      await deps.audit.append(deps.db, {
        actor: caller.user,
        action: 'material.fetched',
        target: keyId,
        correlationId: caller.correlationId,
        details: { version, tokenId: caller.tokenId, state: row.state },
      })
      return jwk
    },
  }
  return service
}

export type MaterialService = ReturnType<typeof createMaterialService>
