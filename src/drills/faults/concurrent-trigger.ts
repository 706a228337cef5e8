import { expectRun, schedulerTrigger, type Fault } from './fault.js'

/** The scheduler fires twice with two order ids: the second attempt is refused while the first runs. */
export function concurrentTrigger(): Fault {
  return {
    async inject(ctx) {
      const { body: first } = await schedulerTrigger(ctx, 'ctm-order-4711')
      const second = await schedulerTrigger(ctx, 'ctm-order-4712')
      if (second.status !== 409) throw new Error(`drill setup: the second trigger answered ${second.status}`)
      await expectRun(ctx, first.id, 'succeeded')
      return { runId: first.id, refusedIdempotencyKey: 'ctm-order-4712' }
    },
  }
}
