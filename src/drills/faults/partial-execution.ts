import { expectRun, interceptNotices, schedulerTrigger, type Fault } from './fault.js'

/**
 * payments-api acknowledges the promotion notice but crashes before it switches: the run stops
 * in confirm, past the point of no return. The restarted service handles the next notice.
 */
export function partialExecution(): Fault {
  let lost = false
  return {
    async inject(ctx) {
      interceptNotices(ctx.service, (event) => {
        if (event !== 'key.version.promoted' || lost) return 'pass'
        lost = true
        return { status: 200 }
      })
      const { body: run } = await schedulerTrigger(ctx, 'nightly-payments-dek')
      await expectRun(ctx, run.id, 'halted')
      return { runId: run.id }
    },
  }
}
