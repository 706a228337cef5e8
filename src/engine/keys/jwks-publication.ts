import type { Transaction } from 'kysely'
import type { KeyPolicy } from '../../config/schema.js'
import { isAsymmetric, type Algorithm } from '../../domain/algorithms.js'
import { parseDuration } from '../../domain/duration.js'
import type { Database, RunRow } from '../../store/tables.js'
import { decodePolicy } from '../../store/key-columns.js'

/** `policy.jwksMaxAge` when the policy leaves it out (CONTRACT.md "JWKS for verifiers keyrotor does not know"). */
export const DEFAULT_JWKS_MAX_AGE = '300s'

/**
 * How long an instance serves the JWKS from memory before it reads the store again. Several
 * instances share one PostgreSQL database and none tells the others of a change, so a version
 * may reach an instance's JWKS up to this late: the promote wait adds it to jwksMaxAge.
 */
export const JWKS_MEMORY_TTL_MS = 1_000

export function jwksMaxAgeMs(policy: Pick<KeyPolicy, 'jwksMaxAge'>): number {
  return parseDuration(policy.jwksMaxAge ?? DEFAULT_JWKS_MAX_AGE)
}

/**
 * Before an ordinary rotation promotes a signing key: null once the new version has been in the
 * JWKS for at least `policy.jwksMaxAge` (a verifier that cached the document just before the
 * version appeared has refetched by then), else until when the run waits and why. The version is
 * published from its creation (pending versions are in the JWKS), so the wait is measured from
 * its `created_at`: a resumed or retried run does not wait twice.
 */
export async function jwksPublicationWait(
  trx: Transaction<Database>,
  run: RunRow,
  now: Date,
): Promise<{ until: Date; detail: string } | null> {
  if (run.kind !== 'rotate' || run.to_version === null) return null
  const key = await trx
    .selectFrom('keys')
    .select(['algorithm', 'policy'])
    .where('id', '=', run.key_id)
    .executeTakeFirst()
  if (key === undefined || !isAsymmetric(key.algorithm as Algorithm)) return null
  const version = await trx
    .selectFrom('key_versions')
    .select('created_at')
    .where('key_id', '=', run.key_id)
    .where('version', '=', run.to_version)
    .executeTakeFirst()
  if (version === undefined) return null
  const policy = decodePolicy(key.policy, run.key_id)
  const maxAgeMs = jwksMaxAgeMs(policy)
  // 0: nobody is allowed to cache the JWKS, so there is nothing to wait for
  if (maxAgeMs === 0) return null
  const until = new Date(Date.parse(version.created_at) + maxAgeMs + JWKS_MEMORY_TTL_MS)
  if (until.getTime() <= now.getTime()) return null
  const maxAge = policy.jwksMaxAge ?? DEFAULT_JWKS_MAX_AGE
  return {
    until,
    detail:
      `v${run.to_version} is in the JWKS since ${version.created_at}; verifiers may cache the previous ` +
      `document for policy.jwksMaxAge (${maxAge}), so promote waits until ${until.toISOString()}`,
  }
}
