import { listVersions, moveVersion, pointAlias } from '../../store/keys-repository.js'
import { isAsymmetric } from '../../domain/algorithms.js'
import { notifyAll } from '../keys/dependent-ops.js'
import { DEFAULT_JWKS_MAX_AGE } from '../keys/jwks-publication.js'
import type { PhaseHandler } from '../runs/phase-context.js'
import { requireVersion } from './create.js'

/**
 * The point of no return: aliases → N+1 at the provider, then N+1 active and N retiring in the
 * store (one durable checkpoint), then dependents are told to encrypt or sign with N+1.
 * Every step checks before it acts, so a repeated promote changes nothing twice.
 */
export const promote: PhaseHandler = async (ctx) => {
  const from = requireVersion(ctx.run.from_version, 'from')
  const to = requireVersion(ctx.run.to_version, 'to')
  for (const alias of ctx.key.aliases) {
    if ((await ctx.provider.getAlias(ctx.ref, alias.name)) === to) continue
    await ctx.assertClaim()
    await ctx.provider.setAlias(ctx.ref, alias.name, to)
  }
  ctx.crashPoint('after-provider')
  if (ctx.run.kind === 'emergency-rotate' && isAsymmetric(ctx.key.algorithm)) {
    const maxAge = ctx.key.policy.jwksMaxAge ?? DEFAULT_JWKS_MAX_AGE
    ctx.note(
      'jwks.wait.skipped',
      `emergency: promotes v${to} without waiting policy.jwksMaxAge (${maxAge}) for JWKS caches; ` +
        `verifiers that cached the JWKS before v${to} must refetch on its unknown kid`,
      { version: to, jwksMaxAge: maxAge },
    )
  }
  const now = ctx.now()
  // an emergency has no grace period: the compromised version is revoked once dependents let go
  const graceMs = ctx.run.kind === 'emergency-rotate' ? 0 : ctx.key.gracePeriodMs
  const revokeDueAt = new Date(now.getTime() + graceMs).toISOString()
  await ctx.checkpoint(`v${to} active, v${from} retiring`, async (trx) => {
    const states = new Map((await listVersions(trx, ctx.key.id)).map((v) => [v.version, v.state]))
    const at = now.toISOString()
    // retire first: the database allows one active version per key
    if (states.get(from) === 'active') {
      await moveVersion(trx, ctx.key.id, from, 'active', 'retiring', at, { revoke_due_at: revokeDueAt })
    }
    if (states.get(to) === 'pending') await moveVersion(trx, ctx.key.id, to, 'pending', 'active', at)
    for (const alias of ctx.key.aliases) await pointAlias(trx, ctx.key.id, alias.name, to)
  })
  await notifyAll(ctx, 'key.version.promoted', to)
  ctx.crashPoint('after-notice')
  return { message: `promoted v${to}; v${from} retiring until ${revokeDueAt}` }
}
