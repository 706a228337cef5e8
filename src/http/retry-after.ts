import type { ErrorCode } from '../errors.js'

/**
 * `Retry-After` seconds for refusals that clear with time (RFC 9110 §10.2.3), so a client or a
 * scheduler backs off instead of hammering. Codes absent here do not clear by waiting
 * (NOT_VERIFIED needs a verify, ILLEGAL_TRANSITION never clears).
 */
export const RETRY_AFTER_SECONDS: Partial<Record<ErrorCode, number>> = {
  // a rotation's run takes from seconds to a phase timeout: poll again in half a minute
  CONCURRENT_ROTATION: 30,
  // the halt is released by people, with approvals: minutes at best
  HALTED: 300,
  // the database is unreachable, full or damaged: readiness tells a balancer; a client waits briefly
  STORE_UNAVAILABLE: 5,
}
