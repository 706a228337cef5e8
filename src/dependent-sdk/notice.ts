import { NOTICE_EVENTS } from '../dependents/dependent-client.js'
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, checkSignature } from '../dependents/signature.js'
import type { VerifyOptions } from '../dependents/signature.js'
import { DependentError } from './types.js'
import type { Notice, NoticeEvent, NoticeHeaders } from './types.js'

export { signPayload, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../dependents/signature.js'
export type { VerifyOptions } from '../dependents/signature.js'

/** One header, whatever the container and the case of its name. */
export function headerOf(headers: NoticeHeaders, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined
  const wanted = name.toLowerCase()
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return Array.isArray(value) ? value[0] : value
  }
  return undefined
}

/**
 * Checks a notice's `X-Keyrotor-Timestamp` and `X-Keyrotor-Signature` against the raw body, as
 * received (before any JSON parsing: re-serialising would change the bytes). Throws DependentError
 * `BAD_SIGNATURE` saying why (missing, malformed, stale or mismatch).
 */
export function verifyNoticeSignature(
  secret: string,
  rawBody: string,
  headers: NoticeHeaders,
  options: VerifyOptions = {},
): void {
  const check = checkSignature(
    secret,
    headerOf(headers, TIMESTAMP_HEADER),
    rawBody,
    headerOf(headers, SIGNATURE_HEADER),
    options,
  )
  if (!check.ok) throw new DependentError('BAD_SIGNATURE', `notice signature refused: ${check.reason}`)
}

/** Parses and checks a notice body; throws DependentError `BAD_NOTICE` naming the bad member. */
export function parseNotice(rawBody: string): Notice {
  let raw: unknown
  try {
    raw = JSON.parse(rawBody)
  } catch {
    throw new DependentError('BAD_NOTICE', 'the notice is not JSON')
  }
  if (typeof raw !== 'object' || raw === null)
    throw new DependentError('BAD_NOTICE', 'the notice is not an object')
  const n = raw as Record<string, unknown>
  const bad = (member: string) => new DependentError('BAD_NOTICE', `the notice has no valid "${member}"`)
  if (!(NOTICE_EVENTS as readonly unknown[]).includes(n.event)) throw bad('event')
  if (typeof n.key !== 'string' || n.key === '') throw bad('key')
  if (typeof n.version !== 'number' || !Number.isInteger(n.version) || n.version < 1) throw bad('version')
  for (const member of ['runId', 'correlationId', 'deadline'] as const) {
    if (typeof n[member] !== 'string') throw bad(member)
  }
  if (n.providerRef !== undefined && (typeof n.providerRef !== 'string' || n.providerRef === ''))
    throw bad('providerRef')
  return {
    ...(typeof n.providerRef === 'string' ? { providerRef: n.providerRef } : {}),
    event: n.event as NoticeEvent,
    key: n.key,
    version: n.version,
    runId: n.runId as string,
    correlationId: n.correlationId as string,
    deadline: n.deadline as string,
  }
}
