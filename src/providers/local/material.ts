import { generateKeyPair, generateKeySync, type KeyObject } from 'node:crypto'
import { promisify } from 'node:util'
import { isAsymmetric, joseAlgorithm, kidOf, type Algorithm } from '../../domain/algorithms.js'
import type { Jwk } from '../key-provider.js'

/** Fresh material of one version: the private (or secret) JWK, and the public JWK when there is one. */
export interface GeneratedMaterial {
  privateJwk: Jwk
  publicJwk: Jwk | null
}

const generateKeyPairAsync = promisify(generateKeyPair)

/**
 * Generates material for version `version` of `keyId` with node:crypto. Every JWK carries
 * `kid` = `{keyId}.v{version}`, the JOSE `alg` and `use` ('enc' for AES, 'sig' otherwise).
 * Key pairs are generated asynchronously: an RSA-3072 pair takes long enough to stall a server.
 */
export async function generateMaterial(
  keyId: string,
  version: number,
  algorithm: Algorithm,
): Promise<GeneratedMaterial> {
  const tags = jwkTags(keyId, version, algorithm)
  if (!isAsymmetric(algorithm)) {
    const secret = generateKeySync(algorithm === 'aes-256-gcm' ? 'aes' : 'hmac', { length: 256 })
    return { privateJwk: { ...exportJwk(secret), ...tags }, publicJwk: null }
  }
  const pair = await generatePair(algorithm)
  return {
    privateJwk: { ...exportJwk(pair.privateKey), ...tags },
    publicJwk: { ...exportJwk(pair.publicKey), ...tags },
  }
}

/** The members keyrotor adds to every JWK it hands out. */
export function jwkTags(
  keyId: string,
  version: number,
  algorithm: Algorithm,
): { kid: string; alg: string; use: string } {
  return {
    kid: kidOf(keyId, version),
    alg: joseAlgorithm(algorithm),
    use: algorithm === 'aes-256-gcm' ? 'enc' : 'sig',
  }
}

async function generatePair(algorithm: Algorithm): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  switch (algorithm) {
    case 'rsa-2048':
    case 'rsa-3072':
      return generateKeyPairAsync('rsa', {
        modulusLength: algorithm === 'rsa-2048' ? 2048 : 3072,
        publicExponent: 0x10001,
      })
    case 'ec-p256':
      return generateKeyPairAsync('ec', { namedCurve: 'P-256' })
    case 'ed25519':
      return generateKeyPairAsync('ed25519')
    case 'aes-256-gcm':
    case 'hmac-sha256':
      throw new Error(`${algorithm} has no key pair`)
  }
}

function exportJwk(key: KeyObject): Jwk {
  const jwk = key.export({ format: 'jwk' })
  if (typeof jwk.kty !== 'string') throw new Error('node:crypto exported a JWK without kty')
  return { ...jwk, kty: jwk.kty }
}
