import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Signatures of keyrotor's outgoing webhooks: dependent notices, alert and incident hooks.
 * `X-Keyrotor-Signature: v1=<hex HMAC-SHA256 of "{timestamp}.{body}">` with the receiver's secret,
 * where the timestamp (unix seconds) travels in `X-Keyrotor-Timestamp`. Signing the timestamp
 * with the body lets a receiver refuse replays of an old, captured request.
 *
 * This file depends on node:crypto only: the dependent SDK, which runs inside users' services,
 * imports it too.
 */
export const TIMESTAMP_HEADER = 'X-Keyrotor-Timestamp'
export const SIGNATURE_HEADER = 'X-Keyrotor-Signature'
export const DEFAULT_TOLERANCE_SECONDS = 300

const SCHEME = 'v1='

/** `v1=<hex HMAC-SHA256 of "{timestamp}.{body}">`. */
export function signPayload(secret: string, timestamp: string, body: string): string {
  return SCHEME + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')
}

/** A notice is signed like any other payload; the name says where it is used. */
export const signNotice = signPayload

/** The two headers to send with `body`, stamped with `nowMs` (default: the clock). */
export function signedHeaders(
  secret: string,
  body: string,
  nowMs: number = Date.now(),
): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000))
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: signPayload(secret, timestamp, body) }
}

export type SignatureCheck =
  { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' }

export interface VerifyOptions {
  /** How far the timestamp may be from now, either way. Default 300 s. */
  toleranceSeconds?: number
  /** The clock, in milliseconds; for tests. */
  now?: number | (() => number)
}

/** Like {@link verifySignature}, with the reason of a refusal (never any secret). */
export function checkSignature(
  secret: string,
  timestamp: string | undefined,
  body: string,
  header: string | undefined,
  options: VerifyOptions = {},
): SignatureCheck {
  if (timestamp === undefined || header === undefined || timestamp === '' || header === '') {
    return { ok: false, reason: 'missing' }
  }
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'malformed' }
  const nowMs = typeof options.now === 'function' ? options.now() : (options.now ?? Date.now())
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > tolerance) return { ok: false, reason: 'stale' }
  // A header may list several signatures (e.g. during a secret change): any valid v1 one passes.
  const candidates = header
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.startsWith(SCHEME) && /^[0-9a-f]{64}$/i.test(part.slice(SCHEME.length)))
  if (candidates.length === 0) return { ok: false, reason: 'malformed' }
  const expected = Buffer.from(signPayload(secret, timestamp, body).slice(SCHEME.length), 'hex')
  const matches = candidates.some((candidate) =>
    timingSafeEqual(Buffer.from(candidate.slice(SCHEME.length).toLowerCase(), 'hex'), expected),
  )
  return matches ? { ok: true } : { ok: false, reason: 'mismatch' }
}

/** True when `header` is a valid signature of `body` at a `timestamp` within the tolerance. */
export function verifySignature(
  secret: string,
  timestamp: string | undefined,
  body: string,
  header: string | undefined,
  options: VerifyOptions = {},
): boolean {
  return checkSignature(secret, timestamp, body, header, options).ok
}
