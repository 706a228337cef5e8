import { KeyrotorError } from '../../errors.js'
import { listVersions } from '../../store/keys-repository.js'
import { lastRotationStoppedPastPromote } from '../../store/runs-repository.js'
import type { PhaseHandler } from '../runs/phase-context.js'

/**
 * Forward correction picks up the promotion of the last run on the key that stopped past its
 * point of no return (halted), and drives it to the end: never back to the old version.
 */
export const preflightForwardCorrect: PhaseHandler = async (ctx) => {
  const stopped = await lastRotationStoppedPastPromote(ctx.db, ctx.key.id)
  if (stopped?.from_version == null || stopped.to_version === null) {
    throw new KeyrotorError(
      'PREFLIGHT_REJECTED',
      `key ${ctx.key.id} has no stopped rotation to correct forward`,
    )
  }
  const { from_version: from, to_version: to } = stopped
  const atProvider = await ctx.provider.describeVersion(ctx.ref, to)
  if (atProvider?.state !== 'enabled') {
    throw new KeyrotorError(
      'PREFLIGHT_REJECTED',
      `cannot correct forward to v${to}: it is ${atProvider?.state ?? 'missing'} at the ${ctx.key.provider} provider`,
    )
  }
  const states = new Map((await listVersions(ctx.db, ctx.key.id)).map((v) => [v.version, v.state]))
  const toState = states.get(to)
  if (toState !== 'pending' && toState !== 'active') {
    throw new KeyrotorError(
      'PREFLIGHT_REJECTED',
      `cannot correct forward to v${to}: it is ${toState ?? 'missing'} in the store`,
    )
  }
  return {
    message: `correcting run ${stopped.id} forward: v${from} → v${to} (stopped in ${stopped.failure_phase ?? stopped.phase})`,
    runPatch: { from_version: from, to_version: to },
  }
}
