export const ALGORITHMS = [
  'aes-256-gcm',
  'hmac-sha256',
  'rsa-2048',
  'rsa-3072',
  'ec-p256',
  'ed25519',
] as const
export type Algorithm = (typeof ALGORITHMS)[number]

export const PROVIDER_KINDS = ['local', 'pkcs11', 'aws-kms', 'vault-transit', 'exec'] as const
export type ProviderKind = (typeof PROVIDER_KINDS)[number]

/** Symmetric keys have no public part: nothing of them is ever in a JWKS. */
export function isAsymmetric(algorithm: Algorithm): boolean {
  return algorithm.startsWith('rsa-') || algorithm === 'ec-p256' || algorithm === 'ed25519'
}

/** The JOSE `alg` a version of this algorithm is published and used under. */
export function joseAlgorithm(algorithm: Algorithm): string {
  switch (algorithm) {
    case 'aes-256-gcm':
      return 'A256GCM'
    case 'hmac-sha256':
      return 'HS256'
    case 'rsa-2048':
    case 'rsa-3072':
      return 'RS256'
    case 'ec-p256':
      return 'ES256'
    case 'ed25519':
      return 'EdDSA'
  }
}

/** The key id of one version in JWKs and JWTs: `{key}.v{n}` (CONTRACT.md). */
export function kidOf(keyId: string, version: number): string {
  return `${keyId}.v${version}`
}
