import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { problems } from '../schemas/common.js'
import { KeyParams } from '../schemas/keys.js'
import { AllVerification, KeyVerification } from '../schemas/runs.js'
import type { VerifyService } from '../../engine/verify/verify-service.js'
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
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>()
    app.post(
      '/v1/keys/:key/verify',
      {
        config: { action: 'keys.verify' },
        schema: {
          summary: 'Verify one key: versions, aliases and dependents against the store',
          tags: ['keys'],
          operationId: 'verifyKey',
          params: KeyParams,
          response: { 200: KeyVerification, ...problems(400, 404, 409, 502, 503) },
        },
      },
      async (request) => deps.verify.verifyKey(request.params.key, principalOf(request).user),
    )

    app.post(
      '/v1/verify',
      {
        config: { action: 'keys.verify' },
        schema: {
          summary: 'Verify every key (a halt release needs this to pass)',
          tags: ['keys'],
          operationId: 'verifyAll',
          response: { 200: AllVerification, ...problems(409, 502, 503) },
        },
      },
      async (request) => deps.verify.verifyAll(principalOf(request).user),
    )
  }
}
