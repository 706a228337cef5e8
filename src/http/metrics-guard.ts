import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { KeyrotorError } from '../errors.js'
import type { AuthThrottle } from './auth-throttle.js'

/**
 * With `server --metrics-token-env VAR`, GET /metrics wants `Authorization: Bearer <$VAR>` (what
 * Prometheus sends with `authorization: {credentials_file: …}`): the metrics name keys, owners and
 * failure counts, which an outsider need not see. A wrong token counts towards its address's
 * failed-authentication limit like any other.
 */
export function registerMetricsGuard(app: FastifyInstance, token: string, throttle: AuthThrottle): void {
  // compared as hashes: equal lengths for timingSafeEqual, and no early exit on the first byte
  const expected = digest(token)
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.url !== '/metrics') return
    await throttle.check(request.ip)
    const given = /^Bearer +(.+)$/i.exec(request.headers.authorization ?? '')?.[1]
    if (given !== undefined && timingSafeEqual(digest(given), expected)) return
    await throttle.failed(request.ip)
    request.log.warn({ ip: request.ip }, 'metrics scrape refused: wrong or missing metrics token')
    throw new KeyrotorError(
      'UNAUTHENTICATED',
      'GET /metrics needs the metrics token (Authorization: Bearer …)',
    )
  })
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}
