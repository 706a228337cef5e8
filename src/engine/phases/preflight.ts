import { windowsApply } from '../../domain/windows.js'
import { KeyrotorError } from '../../errors.js'
import { frozenSince, listVersions } from '../../store/keys-repository.js'
import { assertInChangeWindow } from '../schedule/change-window.js'
import { messageOf, probeAllOnce } from '../keys/dependent-ops.js'
import type { PhaseHandler } from '../runs/phase-context.js'

/**
 * Checks key state, provider agreement and every dependent before anything changes. It decides
 * the versions: from the active one to the next (or to a pending one a failed run left behind,
 * so that no extra version is ever created).
 */
export const preflightRotate: PhaseHandler = async (ctx) => {
  const frozen = await frozenSince(ctx.db, ctx.key.id)
  if (frozen !== null) {
    throw new KeyrotorError(
      'PREFLIGHT_REJECTED',
      `key ${ctx.key.id} is frozen since ${frozen.at}: ${frozen.reason}; run \`keyrotor verify ${ctx.key.id}\``,
    )
  }
  // a run queued (or approved) earlier may find its change window closed by now
  if (windowsApply(ctx.run.kind, ctx.run.trigger)) {
    await assertInChangeWindow(ctx.db, ctx.key.id, ctx.now())
  }
  const versions = await listVersions(ctx.db, ctx.key.id)
  const active = versions.filter((v) => v.state === 'active')
  if (active.length !== 1 || active[0] === undefined) {
    throw new KeyrotorError(
      'PREFLIGHT_REJECTED',
      `key ${ctx.key.id} has ${active.length} active versions, expected 1`,
    )
  }
  const from = active[0].version
  const pending = versions.find((v) => v.state === 'pending')
  const to = pending?.version ?? Math.max(...versions.map((v) => v.version)) + 1

  const atProvider = await ctx.provider.describeVersion(ctx.ref, from)
  if (atProvider?.state !== 'enabled') {
    throw new KeyrotorError(
      'PREFLIGHT_REJECTED',
      `key ${ctx.key.id} v${from} is active in the store but ${atProvider?.state ?? 'missing'} at the ${ctx.key.provider} provider`,
    )
  }

  const answers = await probeAllOnce(ctx)
  const problems: string[] = []
  for (const [name, answer] of answers) {
    if (answer instanceof Error) problems.push(`${name}: ${messageOf(answer)}`)
    else if (!answer.accepts.includes(from))
      problems.push(`${name} does not accept the active version v${from}`)
  }
  if (problems.length > 0) {
    throw new KeyrotorError('PREFLIGHT_REJECTED', `dependents not healthy: ${problems.join('; ')}`)
  }
  const emergency = ctx.run.kind === 'emergency-rotate'
  return {
    message: `v${from} → v${to}; ${answers.size} dependent${answers.size === 1 ? '' : 's'} healthy${emergency ? `; v${from} marked compromised` : ''}`,
    runPatch: { from_version: from, to_version: to },
    // a flag, not a state (DESIGN §2): the version stays usable until it is revoked
    ...(emergency
      ? {
          commit: async (trx) => {
            await trx
              .updateTable('key_versions')
              .set({ compromised: 1 })
              .where('key_id', '=', ctx.key.id)
              .where('version', '=', from)
              .execute()
          },
        }
      : {}),
  }
}

/** A revoke acts only on a retiring version whose grace period is over. */
export const preflightRevoke: PhaseHandler = async (ctx) => {
  const version = ctx.run.from_version
  const row = (await listVersions(ctx.db, ctx.key.id)).find((v) => v.version === version)
  if (version === null || row === undefined || row.state !== 'retiring') {
    throw new KeyrotorError(
      'PREFLIGHT_REJECTED',
      `key ${ctx.key.id} v${version ?? '?'} is ${row?.state ?? 'missing'}, only a retiring version can be revoked`,
    )
  }
  const now = ctx.now()
  if (row.revoke_due_at !== null && row.revoke_due_at > now.toISOString()) {
    throw new KeyrotorError(
      'PREFLIGHT_REJECTED',
      `the grace period of ${ctx.key.id} v${version} ends at ${row.revoke_due_at}`,
    )
  }
  return {
    message: `v${version} retiring since ${row.updated_at}; grace period over`,
    // from here the JWKS stops publishing the version, so verifiers that reload it let go
    commit: async (trx) => {
      await trx
        .updateTable('key_versions')
        .set({ revoke_started_at: now.toISOString() })
        .where('key_id', '=', ctx.key.id)
        .where('version', '=', version)
        .execute()
    },
  }
}
