import { notifyAll, waitForAll } from '../keys/dependent-ops.js'
import type { PhaseHandler } from '../runs/phase-context.js'
import { requireVersion } from './create.js'

/** Announces N+1 as pending and waits until every dependent can decrypt or verify with it. */
export const distribute: PhaseHandler = async (ctx) => {
  const to = requireVersion(ctx.run.to_version, 'to')
  if (ctx.run.kind === 'emergency-rotate') {
    // told explicitly and first: move off the old version as soon as the new one is promoted
    await notifyAll(ctx, 'key.compromised', requireVersion(ctx.run.from_version, 'from'))
  }
  await notifyAll(ctx, 'key.version.staged', to)
  ctx.crashPoint('after-notice')
  await waitForAll(ctx, ctx.key.dependents, (a) => a.accepts.includes(to), `accepts v${to}`)
  const n = ctx.key.dependents.length
  return { message: `staged v${to} on ${n} dependent${n === 1 ? '' : 's'}` }
}
