import { expectRun, interceptNotices, schedulerTrigger, type Fault } from './fault.js'

/** payments-api cannot load the new version (its keystore volume went read-only) until fixed. */
export function failedRotation(): Fault {
  let broken = true
  return {
    async inject(ctx) {
      interceptNotices(ctx.service, (event) =>
        broken && event === 'key.version.staged'
          ? { status: 503, error: 'cannot load the new version: keystore volume is read-only' }
          : 'pass',
      )
      const { body: run } = await schedulerTrigger(ctx, 'nightly-payments-dek')
      await expectRun(ctx, run.id, 'failed')
      return { runId: run.id }
    },
    async fix() {
      broken = false
      return 'payments-api: keystore volume remounted read-write; it loads new versions again'
    },
  }
}
