import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  randomBytes,
  sign,
  timingSafeEqual,
  verify,
  type JsonWebKey,
} from 'node:crypto'
import { joseAlgorithm, type Algorithm } from '../../domain/algorithms.js'
import type { Jwk, SelfTestResult } from '../key-provider.js'

/**
 * Exercises one version's material the way its users will: AES encrypt then decrypt, HMAC
 * compute then verify, or sign with the private key and verify with the *published* public key
 * (so a public JWK that does not match the private one fails here, not at a verifier).
 * The detail names what was tried and never contains material.
 */
export function selfTestMaterial(
  algorithm: Algorithm,
  privateJwk: Jwk,
  publicJwk: Jwk | null,
): SelfTestResult {
  const alg = joseAlgorithm(algorithm)
  const probe = randomBytes(32)
  try {
    switch (algorithm) {
      case 'aes-256-gcm':
        return { passed: aesRoundTrip(privateJwk, probe), detail: `encrypt/decrypt ${alg}` }
      case 'hmac-sha256':
        return { passed: hmacRoundTrip(privateJwk, probe), detail: `HMAC compute/verify ${alg}` }
      case 'rsa-2048':
      case 'rsa-3072':
      case 'ec-p256':
      case 'ed25519':
        return {
          passed: signRoundTrip(algorithm, privateJwk, publicJwk, probe),
          detail: `sign/verify ${alg}`,
        }
    }
  } catch (error) {
    // node:crypto messages describe the failure (bad key length, invalid JWK), not the key itself
    const why = error instanceof Error ? `: ${error.message}` : ''
    return { passed: false, detail: `${alg} self-test could not run${why}` }
  }
}

function secretOf(jwk: Jwk): Buffer {
  if (jwk.kty !== 'oct' || typeof jwk.k !== 'string') throw new Error('the stored JWK is not a symmetric key')
  const secret = Buffer.from(jwk.k, 'base64url')
  if (secret.length !== 32) throw new Error(`the stored key holds ${secret.length} bytes, not 32`)
  return secret
}

function aesRoundTrip(jwk: Jwk, probe: Buffer): boolean {
  const key = createSecretKey(secretOf(jwk))
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const ciphertext = Buffer.concat([cipher.update(probe), cipher.final()])
  const decipher = createDecipheriv('aes-256-gcm', key, iv)
  decipher.setAuthTag(cipher.getAuthTag())
  const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()])
  return !ciphertext.equals(probe) && plaintext.equals(probe)
}

function hmacRoundTrip(jwk: Jwk, probe: Buffer): boolean {
  const secret = secretOf(jwk)
  const mac = createHmac('sha256', secret).update(probe).digest()
  const again = createHmac('sha256', createSecretKey(secret)).update(probe).digest()
  const tampered = createHmac('sha256', secret)
    .update(Buffer.concat([probe, Buffer.of(0)]))
    .digest()
  // verification must accept the right message and reject another one
  return timingSafeEqual(mac, again) && !timingSafeEqual(mac, tampered)
}

function signRoundTrip(algorithm: Algorithm, privateJwk: Jwk, publicJwk: Jwk | null, probe: Buffer): boolean {
  if (publicJwk === null) throw new Error('no public JWK is stored for this key pair')
  const privateKey = createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' })
  const publicKey = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' })
  const digest = algorithm === 'ed25519' ? null : 'sha256'
  const signature = sign(digest, probe, privateKey)
  const other = Buffer.concat([probe, Buffer.of(0)])
  return verify(digest, probe, publicKey, signature) && !verify(digest, other, publicKey, signature)
}
