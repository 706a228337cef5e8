import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { checkSignature, signedHeaders, signNotice, signPayload, verifySignature } from './signature.js'

const secret = 'whsec-test-secret'
const body = '{"event":"key.version.staged","key":"payments-dek","version":4}'
const timestamp = '1767225600' // 2026-01-01T00:00:00Z
const at = Number(timestamp) * 1000

describe('signatures', () => {
  it('signs as v1= hex HMAC-SHA256 of "{timestamp}.{body}"', () => {
    const expected = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')
    expect(signNotice(secret, timestamp, body)).toBe(`v1=${expected}`)
    expect(signPayload(secret, timestamp, body)).toBe(`v1=${expected}`)
  })

  it('stamps headers with the clock in unix seconds', () => {
    const headers = signedHeaders(secret, body, at + 999)
    expect(headers['X-Keyrotor-Timestamp']).toBe(timestamp)
    expect(headers['X-Keyrotor-Signature']).toBe(signPayload(secret, timestamp, body))
  })

  it('accepts a fresh, matching signature', () => {
    expect(
      verifySignature(secret, timestamp, body, signPayload(secret, timestamp, body), { now: at + 60_000 }),
    ).toBe(true)
  })

  it('rejects a tampered body, a wrong secret and a tampered timestamp', () => {
    const header = signPayload(secret, timestamp, body)
    expect(checkSignature(secret, timestamp, body.replace('4', '5'), header, { now: at })).toEqual({
      ok: false,
      reason: 'mismatch',
    })
    expect(verifySignature('other-secret', timestamp, body, header, { now: at })).toBe(false)
    expect(verifySignature(secret, String(Number(timestamp) + 1), body, header, { now: at })).toBe(false)
  })

  it('rejects a timestamp older or newer than the tolerance', () => {
    const header = signPayload(secret, timestamp, body)
    expect(checkSignature(secret, timestamp, body, header, { now: at + 301_000 })).toEqual({
      ok: false,
      reason: 'stale',
    })
    expect(checkSignature(secret, timestamp, body, header, { now: at - 301_000 })).toEqual({
      ok: false,
      reason: 'stale',
    })
    expect(verifySignature(secret, timestamp, body, header, { now: at + 20_000, toleranceSeconds: 10 })).toBe(
      false,
    )
  })

  it('rejects missing and malformed headers', () => {
    const header = signPayload(secret, timestamp, body)
    expect(checkSignature(secret, undefined, body, header, { now: at })).toEqual({
      ok: false,
      reason: 'missing',
    })
    expect(checkSignature(secret, timestamp, body, undefined, { now: at })).toEqual({
      ok: false,
      reason: 'missing',
    })
    expect(checkSignature(secret, 'yesterday', body, header, { now: at })).toEqual({
      ok: false,
      reason: 'malformed',
    })
    expect(checkSignature(secret, timestamp, body, header.slice(3), { now: at })).toEqual({
      ok: false,
      reason: 'malformed',
    })
    expect(checkSignature(secret, timestamp, body, 'v1=abc', { now: at })).toEqual({
      ok: false,
      reason: 'malformed',
    })
  })

  it('accepts a header listing an old and the current signature', () => {
    const header = `${signPayload('old-secret', timestamp, body)}, ${signPayload(secret, timestamp, body)}`
    expect(verifySignature(secret, timestamp, body, header, { now: at })).toBe(true)
  })
})
