import { KeyrotorError } from '../../errors.js'
import { listVersions, moveVersion } from '../../store/keys-repository.js'
import { messageOf, notifyAll, probeAllOnce, waitForAll } from '../keys/dependent-ops.js'
import type { PhaseHandler } from '../runs/phase-context.js'
import { requireVersion } from './create.js'

/** Tells dependents to let go of the old version and waits until none accepts or uses it. */
export const retire: PhaseHandler = async (ctx) => {
  const version = requireVersion(ctx.run.from_version, 'from')
  await notifyAll(ctx, 'key.version.retired', version)
  ctx.crashPoint('after-notice')
  await waitForAll(
    ctx,
    ctx.key.dependents,
    (a) => !a.accepts.includes(version) && a.active !== version,
    `no longer accepts v${version}`,
  )
  return { message: `no dependent accepts v${version} any more` }
}

/**
 * Disables (or destroys) the old version. It probes every dependent at the moment it acts and
 * refuses, revoking nothing, if any still accepts or uses the version (DESIGN §4.9).
 */
export const revoke: PhaseHandler = async (ctx) => {
  const version = requireVersion(ctx.run.from_version, 'from')
  const holders: string[] = []
  for (const [name, answer] of await probeAllOnce(ctx)) {
    if (answer instanceof Error) holders.push(`${name} cannot be asked (${messageOf(answer)})`)
    else if (answer.accepts.includes(version) || answer.active === version)
      holders.push(`${name} still accepts v${version}`)
  }
  if (holders.length > 0) {
    throw new KeyrotorError('DEPENDENCY_NOT_READY', `revoke refused, nothing revoked: ${holders.join('; ')}`)
  }
  const destroy = ctx.key.policy.revoke === 'destroy'
  await ctx.assertClaim()
  await ctx.provider.setVersionState(ctx.ref, version, destroy ? 'destroyed' : 'disabled')
  ctx.crashPoint('after-provider')
  await ctx.checkpoint(`v${version} ${destroy ? 'destroyed' : 'disabled'}`, async (trx) => {
    const at = ctx.now().toISOString()
    // a resumed revoke may find this already recorded: each move happens once
    const state = (await listVersions(trx, ctx.key.id)).find((v) => v.version === version)?.state
    if (state === 'retiring') await moveVersion(trx, ctx.key.id, version, 'retiring', 'disabled', at)
    if (destroy && state !== 'destroyed')
      await moveVersion(trx, ctx.key.id, version, 'disabled', 'destroyed', at)
  })
  try {
    await notifyAll(ctx, 'key.version.revoked', version)
    ctx.crashPoint('after-notice')
  } catch (error) {
    // the version is gone either way; a dependent that missed the notice is an anomaly to look at
    ctx.note('notice.warning', `key.version.revoked v${version} not delivered: ${messageOf(error)}`)
  }
  return { message: `v${version} ${destroy ? 'destroyed' : 'disabled'}` }
}
