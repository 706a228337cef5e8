import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import type { AuditLog } from '../audit/audit-log.js'
import { KeyrotorError } from '../errors.js'
import type { Database } from '../store/tables.js'
import type { Authenticator } from './auth.js'
import { sendProblem, toProblem } from './problem.js'

/** The longest path segment a route takes (correlation ids: 128); a longer one is a URL error. */
export const MAX_PARAM_LENGTH = 128
// what an audit record keeps of a URL nobody could route: enough to see the attempt, no more
const MAX_RECORDED_PATH = 512
const TOKEN_SHAPED = /kr_[A-Za-z0-9_-]{20,}/g

export interface UrlErrorDeps {
  /** The authenticator; given late because the app must exist before the hook can be made. */
  authenticator: () => Authenticator
  audit: Pick<AuditLog, 'append'>
  db: Kysely<Database>
}

/**
 * Fastify's `frameworkErrors`: a URL that cannot be decoded (`%zz`) or whose segment is longer
 * than any id (FST_ERR_BAD_URL, FST_ERR_MAX_PARAM_LENGTH) is refused before any route is found.
 * Without this Fastify answers its own JSON to anyone; here the caller is authenticated first
 * (an unknown caller learns only 401, and counts towards its address's limit), the refusal is a
 * problem+json and is audited as `request.malformed`.
 */
export function urlErrorHandler(deps: UrlErrorDeps) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    void handle(error, request, reply)
  }

  async function handle(error: FastifyError, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    // this request was built by Fastify outside any route: only its raw parts and id are there
    const correlationId = request.id
    // a token pasted into a URL must not reach the log or the audit record
    const path = (request.raw.url ?? '').slice(0, MAX_RECORDED_PATH).replace(TOKEN_SHAPED, 'kr_…')
    const method = request.raw.method ?? 'GET'
    void reply.header('X-Correlation-Id', correlationId)
    try {
      const principal = await deps
        .authenticator()
        .authenticate(
          { method, path, action: null, ip: request.ip, correlationId, log: request.log },
          request.headers.authorization,
        )
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      const reason = tooLong
        ? `a path segment is longer than ${MAX_PARAM_LENGTH} characters`
        : 'the path is not a valid URL (a malformed %-escape)'
      try {
        await deps.audit.append(deps.db, {
          actor: principal.user,
          action: 'request.malformed',
          target: `${method} ${path}`,
          correlationId,
          reason,
          details: { method, path, ip: request.ip, tokenId: principal.id },
        })
      } catch (error) {
        // the refusal stands either way; a failing audit write must not turn it into a 500
        request.log.error({ err: error }, 'could not audit a malformed URL')
      }
      void sendProblem(
        reply,
        toProblem('BAD_REQUEST', reason, correlationId, { status: tooLong ? 414 : 400 }),
      )
    } catch (refusal) {
      if (!(refusal instanceof KeyrotorError)) {
        request.log.error({ err: refusal }, 'could not answer a malformed URL')
        void sendProblem(reply, toProblem('INTERNAL', 'an internal error occurred', correlationId))
        return
      }
      const retryAfter = refusal.details?.retryAfterSeconds
      if (typeof retryAfter === 'number') void reply.header('Retry-After', String(retryAfter))
      void sendProblem(
        reply,
        toProblem(refusal.code, refusal.message, correlationId, { details: refusal.details }),
      )
    }
  }
}
