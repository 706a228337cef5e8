import { KeyrotorError } from '../../errors.js'
import type { PhaseHandler } from '../runs/phase-context.js'

/** Creates version N+1 at the provider. Idempotent: a repeated create finds the same version. */
export const create: PhaseHandler = async (ctx) => {
  const to = requireVersion(ctx.run.to_version, 'to')
  await ctx.assertClaim()
  const created = await ctx.provider.createVersion(ctx.ref, to)
  ctx.crashPoint('after-provider')
  const at = ctx.now().toISOString()
  return {
    message: `created v${to} at the ${ctx.key.provider} provider`,
    commit: async (trx) => {
      const existing = await trx
        .selectFrom('key_versions')
        .select('state')
        .where('key_id', '=', ctx.key.id)
        .where('version', '=', to)
        .executeTakeFirst()
      if (existing !== undefined) return
      await trx
        .insertInto('key_versions')
        .values({
          key_id: ctx.key.id,
          version: to,
          state: 'pending',
          compromised: 0,
          provider_ref: created.providerRef,
          created_at: at,
          updated_at: at,
          revoke_started_at: null,
          revoke_due_at: null,
        })
        .execute()
    },
  }
}

export function requireVersion(version: number | null, which: 'from' | 'to'): number {
  if (version === null) throw new KeyrotorError('INTERNAL', `the run has no ${which} version recorded`)
  return version
}
