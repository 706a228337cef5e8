import { waitForAll } from '../keys/dependent-ops.js'
import type { PhaseHandler } from '../runs/phase-context.js'
import { requireVersion } from './create.js'

/** Waits until every dependent that encrypts or signs reports N+1 as its active version. */
export const confirm: PhaseHandler = async (ctx) => {
  const to = requireVersion(ctx.run.to_version, 'to')
  const answers = await waitForAll(
    ctx,
    ctx.key.dependents,
    (a) => a.active === null || a.active === to,
    `active v${to}`,
  )
  const users = answers.filter((a) => a.active !== null).length
  return {
    message: `${users} dependent${users === 1 ? '' : 's'} on v${to}; ${answers.length - users} verify-only`,
  }
}
