import { KeyrotorError } from '../../errors.js'
import { listVersions } from '../../store/keys-repository.js'
import type { PhaseContext, PhaseSettler } from '../runs/phase-context.js'
import { requireVersion } from './create.js'

/** The error that halts everything: a state that is neither the phase's before nor its after. */
export function partialExecution(message: string): KeyrotorError {
  return new KeyrotorError('PARTIAL_EXECUTION', `partial execution: ${message}`, {
    details: { partialExecution: true },
  })
}

/** create: the new version exists enabled (record it) or not at all (create it). */
export const settleCreate: PhaseSettler = async (ctx) => {
  const to = requireVersion(ctx.run.to_version, 'to')
  const found = await ctx.provider.describeVersion(ctx.ref, to)
  if (found === null) return `v${to} is not at the provider: creating it`
  if (found.state !== 'enabled')
    throw partialExecution(`v${to} is ${found.state} at the provider, expected enabled`)
  return `v${to} exists at the provider: recording it`
}

/**
 * promote: aliases at the provider and states in the store must both be before (do it), or the
 * provider after and the store before or after (record it); a mix is partial execution.
 */
export const settlePromote: PhaseSettler = async (ctx) => {
  const from = requireVersion(ctx.run.from_version, 'from')
  const to = requireVersion(ctx.run.to_version, 'to')
  const targets = await Promise.all(ctx.key.aliases.map((a) => ctx.provider.getAlias(ctx.ref, a.name)))
  const provider = targets.every((v) => v === from)
    ? 'before'
    : targets.every((v) => v === to)
      ? 'after'
      : 'mixed'
  const states = new Map((await listVersions(ctx.db, ctx.key.id)).map((v) => [v.version, v.state]))
  const store =
    states.get(from) === 'active' && states.get(to) === 'pending'
      ? 'before'
      : states.get(from) === 'retiring' && states.get(to) === 'active'
        ? 'after'
        : 'other'
  const described = `provider aliases [${targets.join(', ')}], store v${from} ${states.get(from) ?? '?'}, v${to} ${states.get(to) ?? '?'}`
  if (
    provider === 'mixed' ||
    store === 'other' ||
    (store === 'after' && provider === 'before' && targets.length > 0)
  ) {
    throw partialExecution(described)
  }
  return `${described}: ${provider === 'before' && store === 'before' ? 'promoting' : 'recording the promotion'}`
}

/** revoke: the old version is still enabled (revoke it, after checking dependents) or already gone as the policy says. */
export const settleRevoke: PhaseSettler = async (ctx: PhaseContext) => {
  const version = requireVersion(ctx.run.from_version, 'from')
  const found = await ctx.provider.describeVersion(ctx.ref, version)
  const target = ctx.key.policy.revoke === 'destroy' ? 'destroyed' : 'disabled'
  if (found === null) throw partialExecution(`v${version} is missing at the provider`)
  if (found.state === 'enabled') return `v${version} still enabled at the provider: revoking it`
  if (found.state === target || (found.state === 'disabled' && target === 'destroyed')) {
    return `v${version} already ${found.state} at the provider: recording it`
  }
  throw partialExecution(`v${version} is ${found.state} at the provider, the policy says ${target}`)
}
