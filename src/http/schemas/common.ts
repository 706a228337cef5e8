import { z } from 'zod'
import { ERROR_CODES } from '../../errors.js'

/**
 * The shapes every resource shares. Each route's params, query, body and responses are zod schemas
 * declared once in src/http/schemas/<resource>.ts: the type provider validates and types the route
 * with them, @fastify/swagger writes /openapi.json from them, and keyrotor/client infers its types.
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

export const nullableString = z.string().nullable()
/** Times are ISO 8601 text as the store keeps them. */
export const timestamp = z.string().describe('ISO 8601 time')
export const nullableTimestamp = timestamp.nullable()

/** One field a request got wrong: where (body, query, params, headers), which, and why. */
export const FieldError = z.object({ in: z.string(), path: z.string(), message: z.string() })

/**
 * RFC 9457 problem details, keyrotor's answer to every error. Extension members (`errors` naming
 * the fields of a 400, the id of the run already holding a key, …) ride along, so it stays open.
 */
export const Problem = z
  .looseObject({
    type: z.string().describe('https://keyrotor.dev/problems/<code>'),
    title: z.string(),
    status: z.number().int().min(400).max(599),
    detail: z.string(),
    code: z.enum(ERROR_CODES),
    correlationId: z.string(),
    errors: z.array(FieldError).optional().describe('the fields a 400 names'),
  })
  .meta({ id: 'Problem' })

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is malformed: the problem names the field (`errors`)',
  401: 'No token, or a token that is unknown, expired or revoked',
  403: "The token's role may not take this action",
  404: 'No such resource',
  409: 'Conflicts with the current state (see `code`)',
  410: 'The material is gone (disabled or destroyed)',
  413: 'The body is larger than the limit',
  415: 'The body has a media type this route does not read',
  422: 'Refused by the pre-flight checks',
  423: 'The global halt is engaged',
  429: 'Too many failed authentications from this address',
  500: 'An internal error; the log holds it under the correlation id',
  502: 'A key provider or dependent answered with an error',
  503: 'The store or a provider is temporarily unavailable; safe to retry',
  504: 'Timed out',
}

export type ProblemStatus = keyof typeof PROBLEM_DESCRIPTIONS

/** problem+json answers for the given statuses, in the shape a route's `response` takes. */
export function problems(...statuses: number[]): Record<number, ProblemResponse> {
  return Object.fromEntries(statuses.map((status) => [status, problemResponse(status)]))
}

export interface ProblemResponse {
  description: string
  content: { [PROBLEM_CONTENT_TYPE]: { schema: typeof Problem } }
}

export function problemResponse(status: number): ProblemResponse {
  return {
    description: PROBLEM_DESCRIPTIONS[status] ?? `HTTP ${status}`,
    content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } },
  }
}

/** A response of another media type than JSON (metrics text, Server-Sent Events, Markdown). */
export function textResponse(description: string, mediaType: string) {
  return { description, content: { [mediaType]: { schema: z.string() } } }
}

/** An id in a path: what the stores hand out, bounded so a hostile one is refused early. */
export const IdParams = z.object({ id: z.string().min(1).max(64) })

/** A reason a person gives for an action (recorded in the audit log). */
export const Reason = z.string().min(1).max(2000)

/** A query-string integer (the query arrives as text). */
export function queryInt(min: number, max: number) {
  return z.coerce.number().int().min(min).max(max)
}
