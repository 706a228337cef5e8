import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { KeyrotorError, type ErrorCode } from '../errors.js'
import { MATERIAL_HELD_BY_BACKEND } from '../engine/keys/material-service.js'
import { RETRY_AFTER_SECONDS } from './retry-after.js'
import { storeFailureIn, storeUnavailable } from '../store/store-errors.js'

/**
 * HTTP status and title of every error code. Exhaustive on purpose: a new code without a
 * status does not compile.
 *
 * MATERIAL_UNAVAILABLE is 410 Gone, not 409: the version's material was disabled or destroyed,
 * a state that does not clear by retrying (destroyed never does; disabled only through an
 * approved forward correction). 410 tells a consumer to move to a current version instead of
 * retrying, and keeps it apart from the 409 conflicts a retry can resolve.
 */
export const PROBLEMS: Record<ErrorCode, { status: number; title: string }> = {
  BAD_REQUEST: { status: 400, title: 'Bad request' },
  INVALID_CONFIG: { status: 400, title: 'Invalid configuration' },
  UNKNOWN_KEY: { status: 404, title: 'Unknown key' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  ILLEGAL_TRANSITION: { status: 409, title: 'Illegal state transition' },
  PREFLIGHT_REJECTED: { status: 422, title: 'Refused by pre-flight' },
  CONCURRENT_ROTATION: { status: 409, title: 'Another run is in progress on this key' },
  HALTED: { status: 423, title: 'The global halt is engaged' },
  NOT_VERIFIED: { status: 409, title: 'Not verified since the failure' },
  SELF_APPROVAL: { status: 403, title: 'Requesters cannot approve their own request' },
  CONFLICT: { status: 409, title: 'Conflict' },
  PARTIAL_EXECUTION: { status: 409, title: 'Partial execution' },
  STALE_LEASE: { status: 409, title: 'Stale lease' },
  UNAUTHENTICATED: { status: 401, title: 'Authentication required' },
  FORBIDDEN: { status: 403, title: 'Forbidden' },
  RATE_LIMITED: { status: 429, title: 'Too many failed authentications from this address' },
  MATERIAL_UNAVAILABLE: { status: 410, title: 'Key material unavailable' },
  PROVIDER_ERROR: { status: 502, title: 'Key provider error' },
  PROVIDER_TRANSIENT: { status: 503, title: 'Key provider temporarily unavailable' },
  DEPENDENCY_NOT_READY: { status: 503, title: 'Dependent not ready' },
  TIMEOUT: { status: 504, title: 'Timed out' },
  UNREACHABLE: { status: 502, title: 'Unreachable' },
  STORE_UNAVAILABLE: { status: 503, title: 'Store temporarily unavailable' },
  INTERNAL: { status: 500, title: 'Internal error' },
}

/** The RFC 9457 body keyrotor answers every error with. */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: ErrorCode
  correlationId: string
  [extension: string]: unknown
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** `PROVIDER_TRANSIENT` → `https://keyrotor.dev/problems/provider-transient`. */
export function problemType(code: ErrorCode): string {
  return `https://keyrotor.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`
}

export function toProblem(
  code: ErrorCode,
  detail: string,
  correlationId: string,
  extra: { status?: number; details?: Record<string, unknown> | undefined } = {},
): Problem {
  const { status, title } = PROBLEMS[code]
  // details first: an extension member can never overwrite the standard ones
  return {
    ...extra.details,
    type: problemType(code),
    title,
    status: extra.status ?? status,
    detail,
    code,
    correlationId,
  }
}

/** Sends a problem for a known code (used by hooks that answer without throwing). */
export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  const retryAfter = RETRY_AFTER_SECONDS[problem.code]
  if (retryAfter !== undefined && !reply.hasHeader('retry-after'))
    reply.header('retry-after', String(retryAfter))
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem)
}

/**
 * Fastify's error handler: coded errors keep their code; Fastify's schema validation becomes
 * BAD_REQUEST naming the field; Fastify's own client errors (body too large, bad JSON, media
 * type) keep their 4xx status; anything else is INTERNAL with a generic detail and the real
 * error only in the log.
 */
export function problemErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  problemErrorHandlerWith()(error, request, reply)
}

/** The handler, also telling `onStoreFailure` each request the store could not serve (readiness). */
export function problemErrorHandlerWith(onStoreFailure?: (problem: Problem) => void) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const retryAfter = error instanceof KeyrotorError ? error.details?.retryAfterSeconds : undefined
    if (typeof retryAfter === 'number') void reply.header('Retry-After', String(retryAfter))
    const problem = problemFor(error, request)
    if (problem.code === 'STORE_UNAVAILABLE') onStoreFailure?.(problem)
    void sendProblem(reply, problem)
  }
}

/**
 * The one code whose status depends on why: material a backend never lets out (an HSM or KMS
 * key) is 409, as CONTRACT.md says, a conflict with how the key is held; material of a disabled
 * or destroyed version stays 410 Gone.
 */
function statusOf(error: KeyrotorError): number | undefined {
  return error.code === 'MATERIAL_UNAVAILABLE' && error.details?.reason === MATERIAL_HELD_BY_BACKEND
    ? 409
    : undefined
}

function problemFor(error: FastifyError, request: FastifyRequest): Problem {
  const id = request.correlationId
  // a database that cannot serve (unreachable, disk full, damaged) is 503 and safe to retry,
  // wherever in a service the error surfaced and whatever the service wrapped it in
  const unavailable = isServerSide(error) ? storeFailureIn(error) : undefined
  if (unavailable !== undefined) {
    const coded = storeUnavailable(unavailable)
    request.log.error({ err: error }, 'request failed: the store cannot serve')
    return toProblem('STORE_UNAVAILABLE', coded.message, id, { details: coded.details })
  }
  if (error instanceof KeyrotorError) {
    if (PROBLEMS[error.code].status >= 500) request.log.error({ err: error }, 'request failed')
    return toProblem(error.code, error.message, id, { details: error.details, status: statusOf(error) })
  }
  if (error.validation !== undefined) {
    const errors = error.validation.map((v) => ({
      in: error.validationContext ?? 'request',
      path: fieldOf(v.instancePath, v.params),
      message: v.message ?? v.keyword,
    }))
    // Ajv's message for an unknown field ("must NOT have additional properties") does not say which
    const detail = errors.map((e) => `${e.in} ${e.path === '' ? '' : `${e.path} `}${e.message}`).join('; ')
    return toProblem('BAD_REQUEST', detail, id, { details: { errors } })
  }
  const status = error.statusCode
  if (status !== undefined && status >= 400 && status < 500) {
    // Fastify's client errors carry fixed, safe messages (FST_ERR_CTP_BODY_TOO_LARGE, …)
    return toProblem('BAD_REQUEST', error.message, id, { status })
  }
  request.log.error({ err: error }, 'unexpected error')
  return toProblem('INTERNAL', 'an internal error occurred; the log holds it under this correlation id', id)
}

/**
 * Errors that may hide a store failure: uncoded ones and INTERNAL. Other coded errors say what
 * failed already (a provider's or dependent's lost connection is not the store's).
 */
function isServerSide(error: FastifyError): boolean {
  if (error instanceof KeyrotorError) return error.code === 'INTERNAL' || error.code === 'STORE_UNAVAILABLE'
  return error.validation === undefined && (error.statusCode === undefined || error.statusCode >= 500)
}

/** `/role` → `role`; a missing or unknown property is named by its own name. */
function fieldOf(instancePath: string, params: Record<string, unknown>): string {
  const base = instancePath.replace(/^\//, '').replaceAll('/', '.')
  const named = params.missingProperty ?? params.additionalProperty
  if (typeof named === 'string') return base === '' ? named : `${base}.${named}`
  return base
}
