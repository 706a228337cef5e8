import { schedulerTrigger, type Fault } from './fault.js'

/** How long the drill's change freeze lasts from the sandbox's start. */
export const FREEZE_SECONDS = 18

/** A release freeze is on; the scheduler's attempt is refused and it may run when the freeze ends. */
export function changeWindow(): Fault {
  let freezeEnds = new Date()
  return {
    config(startedAt) {
      freezeEnds = new Date(startedAt.getTime() + FREEZE_SECONDS * 1000)
      const from = new Date(startedAt.getTime() - 3_600_000).toISOString()
      return {
        extra: `blackouts:\n  - { from: "${from}", to: "${freezeEnds.toISOString()}", reason: "release freeze", keys: [payments-dek] }\n`,
      }
    },
    async inject(ctx) {
      const refused = await schedulerTrigger(ctx, 'nightly-payments-dek')
      if (refused.status !== 422) throw new Error(`drill setup: the trigger answered ${refused.status}`)
      return { freezeEndsAt: freezeEnds.toISOString() }
    },
  }
}
