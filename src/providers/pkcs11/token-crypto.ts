import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto'
import pkcs11js from 'pkcs11js'
import { joseAlgorithm, kidOf, type Algorithm } from '../../domain/algorithms.js'
import type { Jwk, ProviderKeyRef, SelfTestResult } from '../key-provider.js'
import { TOKEN_ALGORITHMS } from './key-templates.js'
import { readAttributes } from './token-objects.js'
import type { Pkcs11 } from './token-sessions.js'

type Handle = pkcs11js.Handle

/** CKA_EC_POINT is a DER OCTET STRING around the point; some tokens give the bare point. */
function unwrapPoint(value: Buffer, pointLength: number): Buffer {
  if (value.length === pointLength) return value
  if (value[0] === 0x04 && value[1] === pointLength && value.length === pointLength + 2)
    return value.subarray(2)
  throw new Error(`CKA_EC_POINT of ${value.length} bytes is not a ${pointLength}-byte point`)
}

/** The public JWK of a version, read from the token's public key object. */
export function publicJwkFromToken(
  lib: Pkcs11,
  session: Handle,
  publicKey: Handle,
  key: ProviderKeyRef,
  version: number,
): Jwk {
  const head = { kid: kidOf(key.keyId, version), alg: joseAlgorithm(key.algorithm), use: 'sig' }
  const b64 = (b: Buffer) => b.toString('base64url')
  switch (key.algorithm) {
    case 'rsa-2048':
    case 'rsa-3072': {
      const a = readAttributes(lib, session, publicKey, [pkcs11js.CKA_MODULUS, pkcs11js.CKA_PUBLIC_EXPONENT])
      return {
        kty: 'RSA',
        n: b64(a.get(pkcs11js.CKA_MODULUS) as Buffer),
        e: b64(a.get(pkcs11js.CKA_PUBLIC_EXPONENT) as Buffer),
        ...head,
      }
    }
    case 'ec-p256': {
      const raw = readAttributes(lib, session, publicKey, [pkcs11js.CKA_EC_POINT]).get(
        pkcs11js.CKA_EC_POINT,
      ) as Buffer
      const point = unwrapPoint(raw, 65)
      return { kty: 'EC', crv: 'P-256', x: b64(point.subarray(1, 33)), y: b64(point.subarray(33)), ...head }
    }
    case 'ed25519': {
      const raw = readAttributes(lib, session, publicKey, [pkcs11js.CKA_EC_POINT]).get(
        pkcs11js.CKA_EC_POINT,
      ) as Buffer
      return { kty: 'OKP', crv: 'Ed25519', x: b64(unwrapPoint(raw, 32)), ...head }
    }
    case 'aes-256-gcm':
    case 'hmac-sha256':
      throw new Error(`${key.algorithm} has no public key`)
  }
}

/**
 * Uses the version inside the token as consumers will: AES-GCM encrypt then decrypt, HMAC sign
 * then verify, or sign in the token and verify outside it against the published public JWK (a
 * public key that does not match the private key fails here, before anyone relies on it).
 */
export async function selfTestInToken(
  lib: Pkcs11,
  session: Handle,
  algorithm: Algorithm,
  keyHandle: Handle,
  publicJwk: Jwk | null,
): Promise<SelfTestResult> {
  const spec = TOKEN_ALGORITHMS[algorithm]
  const message = randomBytes(32)
  if (algorithm === 'aes-256-gcm') {
    const parameter = {
      type: pkcs11js.CK_PARAMS_AES_GCM,
      iv: randomBytes(12),
      aad: Buffer.from('keyrotor self-test'),
      ivBits: 96,
      tagBits: 128,
    }
    lib.C_EncryptInit(session, { mechanism: spec.use, parameter }, keyHandle)
    const sealed = Buffer.from(await lib.C_EncryptAsync(session, message, Buffer.alloc(64)))
    lib.C_DecryptInit(session, { mechanism: spec.use, parameter }, keyHandle)
    const opened = await lib.C_DecryptAsync(session, sealed, Buffer.alloc(64))
    const passed = opened.equals(message) && !sealed.subarray(0, 32).equals(message)
    return {
      passed,
      detail: `encrypt/decrypt A256GCM in the token ${passed ? 'round-trips' : 'does not round-trip'}`,
    }
  }
  if (algorithm === 'hmac-sha256') {
    lib.C_SignInit(session, { mechanism: spec.use }, keyHandle)
    const mac = Buffer.from(await lib.C_SignAsync(session, message, Buffer.alloc(32)))
    lib.C_VerifyInit(session, { mechanism: spec.use }, keyHandle)
    const passed = await lib.C_VerifyAsync(session, message, mac)
    return { passed, detail: `compute/verify HS256 in the token ${passed ? 'agree' : 'disagree'}` }
  }
  if (publicJwk === null) return { passed: false, detail: `the token holds no public key for ${algorithm}` }
  const publicKey = createPublicKey({ key: publicJwk, format: 'jwk' })
  let signature: Buffer
  let valid: boolean
  lib.C_SignInit(session, { mechanism: spec.use }, keyHandle)
  if (algorithm === 'ec-p256') {
    // CKM_ECDSA signs a digest and answers r || s
    signature = Buffer.from(
      await lib.C_SignAsync(session, createHash('sha256').update(message).digest(), Buffer.alloc(64)),
    )
    valid = verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)
  } else if (algorithm === 'ed25519') {
    signature = Buffer.from(await lib.C_SignAsync(session, message, Buffer.alloc(64)))
    valid = verify(null, message, publicKey, signature)
  } else {
    signature = Buffer.from(await lib.C_SignAsync(session, message, Buffer.alloc(512)))
    valid = verify('sha256', message, publicKey, signature)
  }
  const alg = joseAlgorithm(algorithm)
  return {
    passed: valid,
    detail: valid
      ? `sign ${alg} in the token, verify with the published key`
      : `a ${alg} signature from the token does not verify with the published key`,
  }
}
