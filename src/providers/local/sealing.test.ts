import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { isKeyrotorError } from '../../errors.js'
import { createSealer, DESTROYED_MATERIAL } from './sealing.js'

const secret = JSON.stringify({ kty: 'oct', k: 'c2VjcmV0LW1hdGVyaWFsLW9mLXRoZS10ZXN0' })

/** Flips one bit of one base64url part of a sealed blob. */
function tamper(sealed: string, part: number): string {
  const parts = sealed.split('.')
  const bytes = Buffer.from(parts[part] as string, 'base64url')
  bytes[0] = (bytes[0] as number) ^ 0x01
  parts[part] = bytes.toString('base64url')
  return parts.join('.')
}

function openError(fn: () => unknown): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  throw new Error('expected open to throw')
}

describe('sealing', () => {
  const sealer = createSealer(randomBytes(32))

  it('opens what it sealed under the same aad', () => {
    const sealed = sealer.seal(secret, 'payments-dek.v1')
    expect(sealer.open(sealed, 'payments-dek.v1')).toBe(secret)
  })

  it('produces iv.tag.ciphertext in base64url that does not contain the plaintext', () => {
    const sealed = sealer.seal(secret, 'payments-dek.v1')
    expect(sealed).toMatch(/^[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/)
    expect(sealed).not.toContain('c2VjcmV0')
  })

  it('uses a fresh iv each time, so sealing twice gives different blobs', () => {
    expect(sealer.seal(secret, 'k.v1')).not.toBe(sealer.seal(secret, 'k.v1'))
  })

  it.each([
    ['iv', 0],
    ['tag', 1],
    ['ciphertext', 2],
  ])('refuses to open a blob whose %s was altered', (_name, part) => {
    const sealed = sealer.seal(secret, 'k.v1')
    const error = openError(() => sealer.open(tamper(sealed, part), 'k.v1'))
    expect(isKeyrotorError(error, 'PROVIDER_ERROR')).toBe(true)
  })

  it('refuses to open a blob moved to another version (wrong aad)', () => {
    const sealed = sealer.seal(secret, 'payments-dek.v1')
    const error = openError(() => sealer.open(sealed, 'payments-dek.v2'))
    expect(isKeyrotorError(error, 'PROVIDER_ERROR')).toBe(true)
    expect((error as Error).message).toContain('payments-dek.v2')
    expect((error as Error).message).not.toContain(secret)
  })

  it('refuses to open a blob sealed under another master key', () => {
    const sealed = createSealer(randomBytes(32)).seal(secret, 'k.v1')
    expect(
      isKeyrotorError(
        openError(() => sealer.open(sealed, 'k.v1')),
        'PROVIDER_ERROR',
      ),
    ).toBe(true)
  })

  it('refuses the destroyed tombstone and malformed blobs', () => {
    for (const blob of [DESTROYED_MATERIAL, 'abc', 'a.b.c.d', 'AAAA.AAAA.AAAA']) {
      expect(
        isKeyrotorError(
          openError(() => sealer.open(blob, 'k.v1')),
          'PROVIDER_ERROR',
        ),
      ).toBe(true)
    }
  })

  it('refuses a master key that is not 32 bytes', () => {
    expect(() => createSealer(randomBytes(16))).toThrow(/32 bytes/)
  })
})
