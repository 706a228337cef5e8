import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { KeyrotorError } from '../../errors.js'

/**
 * Encryption at rest for the local keystore: AES-256-GCM under a key derived from the master key
 * with HKDF-SHA256. The version's kid is the additional authenticated data, so a sealed blob
 * copied onto another row (another key, another version) fails to open instead of silently
 * serving the wrong material.
 *
 * Sealed format (see LocalKeystoreTable): base64url(iv).base64url(tag).base64url(ciphertext).
 */

const HKDF_INFO = 'keyrotor local keystore v1'
const IV_BYTES = 12
const TAG_BYTES = 16

/** What a destroyed version's sealed_material is overwritten with: nothing is left to open. */
export const DESTROYED_MATERIAL = ''

export interface Sealer {
  /** Encrypts `plaintext` bound to `aad` (the version's kid). */
  seal(plaintext: string, aad: string): string
  /** Decrypts and authenticates; throws PROVIDER_ERROR if the blob, the aad or the master key differ. */
  open(sealed: string, aad: string): string
}

export function createSealer(masterKey: Buffer): Sealer {
  if (masterKey.length !== 32) {
    throw new KeyrotorError('INVALID_CONFIG', `the master key must be 32 bytes, not ${masterKey.length}`)
  }
  // an all-zero salt is what RFC 5869 prescribes when none is available; the IKM is uniformly random
  const key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), HKDF_INFO, 32))

  return {
    seal(plaintext, aad) {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      cipher.setAAD(Buffer.from(aad, 'utf8'))
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
      const tag = cipher.getAuthTag()
      return [iv, tag, ciphertext].map((part) => part.toString('base64url')).join('.')
    },

    open(sealed, aad) {
      const parts = sealed.split('.')
      if (sealed === DESTROYED_MATERIAL || parts.length !== 3) {
        throw new KeyrotorError('PROVIDER_ERROR', `sealed material of ${aad} is not in the sealed format`)
      }
      const [iv, tag, ciphertext] = parts.map((part) => Buffer.from(part, 'base64url')) as [
        Buffer,
        Buffer,
        Buffer,
      ]
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
        throw new KeyrotorError('PROVIDER_ERROR', `sealed material of ${aad} is not in the sealed format`)
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
        decipher.setAAD(Buffer.from(aad, 'utf8'))
        decipher.setAuthTag(tag)
        return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8')
      } catch (error) {
        throw new KeyrotorError(
          'PROVIDER_ERROR',
          `sealed material of ${aad} failed authentication (another master key, or the row was altered or moved)`,
          { cause: error },
        )
      }
    },
  }
}
