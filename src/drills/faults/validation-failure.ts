import { expectRun, interceptNotices, schedulerTrigger, type Fault } from './fault.js'

/**
 * payments-api confirms v2, then one of its replicas is redeployed from an old image and serves
 * with v1 again: post-rotation validation sees a dependent on the old version. `drill fix` is
 * the corrected deployment.
 */
export function validationFailure(): Fault {
  let promoted = false
  let probesSincePromote = 0
  let fixed = false
  return {
    async inject(ctx) {
      interceptNotices(ctx.service, (event) => {
        if (event === 'key.version.promoted') promoted = true
        return 'pass'
      })
      const truthful = ctx.service.dependent.probeAnswer.bind(ctx.service.dependent)
      ctx.service.dependent.probeAnswer = () => {
        const answer = truthful()
        if (!promoted || fixed) return answer
        probesSincePromote += 1
        // confirm's probe sees v2; every later one the old image's v1
        if (probesSincePromote === 1 || answer.active === null) return answer
        return { ...answer, active: answer.active - 1 }
      }
      const { body: run } = await schedulerTrigger(ctx, 'nightly-payments-dek')
      await expectRun(ctx, run.id, 'failed')
      return { runId: run.id }
    },
    async fix() {
      fixed = true
      return 'payments-api: every replica redeployed from the current image; it encrypts with v2'
    },
  }
}
