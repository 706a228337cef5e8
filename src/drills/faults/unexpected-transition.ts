import { DRILL_ALGORITHM, DRILL_KEY, expectRun, schedulerTrigger, type Fault } from './fault.js'

/**
 * After a good rotation, someone with provider access disables the retiring v1 by hand, behind
 * keyrotor's back; monitoring's verify finds it and freezes the key. The repair is at the
 * provider: its custodian re-enables v1 (`drill fix`).
 */
export function unexpectedTransition(): Fault {
  const setV1 = (ctx: Parameters<NonNullable<Fault['fix']>>[0], state: 'enabled' | 'disabled') =>
    ctx.keyrotor.engine.providers
      .get('local')
      .setVersionState({ keyId: DRILL_KEY, algorithm: DRILL_ALGORITHM }, 1, state)
  return {
    async inject(ctx) {
      const { body: run } = await schedulerTrigger(ctx, 'nightly-payments-dek')
      await expectRun(ctx, run.id, 'succeeded')
      await setV1(ctx, 'disabled')
      const found = await ctx.api<{ passed: boolean }>('POST', `/v1/keys/${DRILL_KEY}/verify`)
      if (found.body.passed) throw new Error('drill setup: verify did not see the disabled version')
      return { runId: run.id, version: 1 }
    },
    async fix(ctx) {
      await setV1(ctx, 'enabled')
      return 'the provider custodian re-enabled payments-dek v1 (it was disabled by hand)'
    },
  }
}
