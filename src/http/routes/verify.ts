import type { FastifyPluginAsync } from 'fastify'
import type { VerifyService } from '../../engine/verify-service.js'
import { principalOf } from '../auth.js'

export interface VerifyRoutesDeps {
  verify: Pick<VerifyService, 'verifyKey' | 'verifyAll'>
}

/**
 * Consistency checks of store against provider and dependents. POST, not GET: every check is
 * recorded, and a passing one thaws a frozen key and counts towards a retry or a halt release.
 * A failed check is still a 200: the answer is the report; `passed` says how it came out.
 */
export function verifyRoutes(deps: VerifyRoutesDeps): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Params: { key: string } }>(
      '/v1/keys/:key/verify',
      {
        config: { action: 'keys.verify' },
        schema: {
          summary: 'Verify one key: versions, aliases and dependents against the store',
          tags: ['keys'],
          params: {
            type: 'object',
            required: ['key'],
            properties: { key: { type: 'string', minLength: 1, maxLength: 64 } },
          },
        },
      },
      async (request) => deps.verify.verifyKey(request.params.key, principalOf(request).user),
    )

    app.post(
      '/v1/verify',
      {
        config: { action: 'keys.verify' },
        schema: { summary: 'Verify every key (a halt release needs this to pass)', tags: ['keys'] },
      },
      async (request) => deps.verify.verifyAll(principalOf(request).user),
    )
  }
}
