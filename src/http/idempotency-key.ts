import type { FastifyRequest } from 'fastify'
import { KeyrotorError } from '../errors.js'

/** The longest idempotency key the body field accepts; the header keeps the same limit. */
export const IDEMPOTENCY_KEY_MAX = 200

/**
 * The request's idempotency key, from the `Idempotency-Key` header (the IETF draft: a
 * structured-field string, e.g. `"order-42"`) or the body field. Both may be given only when
 * they agree: a client that sends two different keys has a bug we must not guess around.
 */
export function idempotencyKeyOf(request: FastifyRequest, fromBody: string | undefined): string | undefined {
  const raw = request.headers['idempotency-key']
  if (raw === undefined) return fromBody
  if (Array.isArray(raw)) {
    throw new KeyrotorError('BAD_REQUEST', 'Idempotency-Key header: give it once, not several times')
  }
  const fromHeader = parseHeader(raw)
  if (fromBody !== undefined && fromBody !== fromHeader) {
    throw new KeyrotorError(
      'BAD_REQUEST',
      `Idempotency-Key header "${fromHeader}" and body field idempotencyKey "${fromBody}" differ: send one of them`,
    )
  }
  return fromHeader
}

function parseHeader(raw: string): string {
  const value = raw.trim()
  // RFC 8941 sf-string: printable ASCII in quotes, with \" and \\ as the only escapes
  const quoted = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/.exec(value)
  const key = quoted === null ? value : quoted[1]!.replace(/\\(["\\])/g, '$1')
  if (quoted === null && (value.startsWith('"') || !/^[\x21-\x7e]+$/.test(value))) {
    throw new KeyrotorError(
      'BAD_REQUEST',
      'Idempotency-Key header: not a structured-field string (use "…" with printable ASCII)',
    )
  }
  if (key.length === 0 || key.length > IDEMPOTENCY_KEY_MAX) {
    throw new KeyrotorError(
      'BAD_REQUEST',
      `Idempotency-Key header: must be 1 to ${IDEMPOTENCY_KEY_MAX} characters, got ${key.length}`,
    )
  }
  return key
}
