import { createPublicKey } from 'node:crypto'
import type { KeySpec, KeyUsageType, SigningAlgorithmSpec } from '@aws-sdk/client-kms'
import { joseAlgorithm, kidOf, type Algorithm } from '../../domain/algorithms.js'
import type { Jwk, ProviderKeyRef } from '../key-provider.js'

/** How one of keyrotor's algorithms is a KMS key. */
export interface KmsAlgorithm {
  keySpec: KeySpec
  keyUsage: KeyUsageType
  /** For SIGN_VERIFY keys: the signing algorithm of the self-test (and of consumers). */
  signing?: SigningAlgorithmSpec
}

export const KMS_ALGORITHMS: Readonly<Record<Algorithm, KmsAlgorithm>> = {
  // KMS's symmetric default is AES-256-GCM
  'aes-256-gcm': { keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT' },
  'hmac-sha256': { keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' },
  'rsa-2048': { keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY', signing: 'RSASSA_PKCS1_V1_5_SHA_256' },
  'rsa-3072': { keySpec: 'RSA_3072', keyUsage: 'SIGN_VERIFY', signing: 'RSASSA_PKCS1_V1_5_SHA_256' },
  'ec-p256': { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY', signing: 'ECDSA_SHA_256' },
  ed25519: { keySpec: 'ECC_NIST_EDWARDS25519', keyUsage: 'SIGN_VERIFY', signing: 'ED25519_SHA_512' },
}

export function algorithmOfKeySpec(keySpec: string | undefined): Algorithm | null {
  const found = (Object.keys(KMS_ALGORITHMS) as Algorithm[]).find(
    (a) => KMS_ALGORITHMS[a].keySpec === keySpec,
  )
  return found ?? null
}

/** The name of a version's own alias: it makes creation idempotent across instances. */
export function versionAlias(keyId: string, version: number): string {
  return `alias/keyrotor/${keyId}/v${version}`
}

/** A key's configured alias as a KMS alias name (KMS names all start with `alias/`). */
export function kmsAliasName(alias: string): string {
  return alias.startsWith('alias/') ? alias : `alias/${alias}`
}

/** The JWK of a DER SubjectPublicKeyInfo as GetPublicKey answers it. */
export function jwkFromSpki(spki: Uint8Array, key: ProviderKeyRef, version: number): Jwk {
  const jwk = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).export({
    format: 'jwk',
  })
  return { ...jwk, kid: kidOf(key.keyId, version), alg: joseAlgorithm(key.algorithm), use: 'sig' } as Jwk
}
