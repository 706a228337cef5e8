import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { KeyrotorError } from '../errors.js'

/** How many failed authentications one client address may make per window. */
export interface AuthThrottleOptions {
  /** Failures allowed per window (default 30). */
  max?: number | undefined
  /** The window in ms (default one minute). */
  windowMs?: number | undefined
}

export interface AuthThrottle {
  /**
   * RATE_LIMITED (429, with `retryAfterSeconds`) when `ip` has used up its failures: the token is
   * then not even looked at, so guessing goes no further, right token or wrong. `firstRefusal` is
   * true once per window, so that the refusals are audited as one record, not one per request.
   */
  check(ip: string): Promise<void>
  /** Counts one failed authentication of `ip`. */
  failed(ip: string): Promise<void>
  /**
   * Whether `ip` is being refused with 429 (since its first refusal of the window): its requests
   * are then not logged one by one either, or a flood would fill the log volume instead.
   */
  isThrottled(ip: string): boolean
}

export class ThrottledError extends KeyrotorError {
  /** The first refusal of this address in its window (the one to audit). */
  readonly firstRefusal: boolean
  constructor(ip: string, retryAfterSeconds: number, max: number, firstRefusal: boolean) {
    super(
      'RATE_LIMITED',
      `more than ${max} failed authentications from ${ip}: retry in ${retryAfterSeconds}s`,
      {
        details: { retryAfterSeconds },
      },
    )
    this.firstRefusal = firstRefusal
  }
}

type Limiter = (
  request: FastifyRequest,
  options?: { increment?: boolean },
) => Promise<{ remaining?: number; ttlInSeconds?: number }>

// bounds the memory the "already announced" marks may take under a flood from many addresses
const MAX_ANNOUNCED = 10_000

/**
 * Failed authentication, limited per client address with @fastify/rate-limit: only failures count
 * (a peek before authenticating, an increment after a failure), so a busy honest client is never
 * slowed. Counters are per process; several instances each allow `max`.
 */
export function registerAuthThrottle(app: FastifyInstance, options: AuthThrottleOptions = {}): AuthThrottle {
  const max = options.max ?? 30
  const windowMs = options.windowMs ?? 60_000
  void app.register(rateLimit, { global: false, max, timeWindow: windowMs, keyGenerator: (r) => r.ip })
  let limiter: Limiter | undefined
  // the plugin's decorator exists once the app has loaded its plugins, before the first request
  const limit = (ip: string, increment: boolean) => {
    limiter ??= app.createRateLimit() as Limiter
    return limiter(byAddress(ip), { increment })
  }
  const announcedUntil = new Map<string, number>()

  return {
    async check(ip) {
      const status = await limit(ip, false)
      // `max` failures used up: the next attempt is refused (the plugin's isExceeded is one later)
      if ((status.remaining ?? 1) > 0) return
      const now = Date.now()
      const retryAfter = Math.max(1, status.ttlInSeconds ?? Math.ceil(windowMs / 1000))
      const first = (announcedUntil.get(ip) ?? 0) <= now
      if (first) {
        if (announcedUntil.size >= MAX_ANNOUNCED) {
          for (const [address, until] of announcedUntil) if (until <= now) announcedUntil.delete(address)
        }
        if (announcedUntil.size < MAX_ANNOUNCED) announcedUntil.set(ip, now + retryAfter * 1000)
      }
      throw new ThrottledError(ip, retryAfter, max, first)
    },
    async failed(ip) {
      await limit(ip, true)
    },
    isThrottled(ip) {
      return (announcedUntil.get(ip) ?? 0) > Date.now()
    },
  }
}

/**
 * The limiter reads only the address (our keyGenerator) and the route's rate-limit group; a
 * request Fastify could not route (a malformed URL) has no route options to read, so every call
 * passes this stand-in instead.
 */
function byAddress(ip: string): FastifyRequest {
  return { ip, routeOptions: { config: {} } } as unknown as FastifyRequest
}
