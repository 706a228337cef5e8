import pkcs11js from 'pkcs11js'
import type { Algorithm } from '../../domain/algorithms.js'

type Template = pkcs11js.Template

// PKCS#11 3.0 values pkcs11js (written for 2.40) does not export; SoftHSM 2.6 implements them
export const CKK_EC_EDWARDS = 0x40
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055
export const CKM_EDDSA = 0x1057

/** DER object identifiers of the curves, as CKA_EC_PARAMS. */
const P256_OID = Buffer.from('06082a8648ce3d030107', 'hex')
const ED25519_OID = Buffer.from('06032b6570', 'hex')

/** How one algorithm is made and used in the token. */
export interface TokenAlgorithm {
  /** Key generation mechanism. */
  generate: number
  /** Mechanism of the self-test (and of consumers): encrypt, HMAC or signature. */
  use: number
  /** Usage attributes set while enabled and cleared while disabled. */
  usage: number[]
  /** Symmetric: one secret key; asymmetric: a key pair. */
  pair: boolean
  secretTemplate?: Template
  publicTemplate?: Template
  privateTemplate?: Template
}

const rsa = (bits: number): TokenAlgorithm => ({
  generate: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN,
  use: pkcs11js.CKM_SHA256_RSA_PKCS,
  usage: [pkcs11js.CKA_SIGN],
  pair: true,
  publicTemplate: [
    { type: pkcs11js.CKA_MODULUS_BITS, value: bits },
    { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
  ],
})

export const TOKEN_ALGORITHMS: Readonly<Record<Algorithm, TokenAlgorithm>> = {
  'aes-256-gcm': {
    generate: pkcs11js.CKM_AES_KEY_GEN,
    use: pkcs11js.CKM_AES_GCM,
    usage: [pkcs11js.CKA_ENCRYPT, pkcs11js.CKA_DECRYPT],
    pair: false,
    secretTemplate: [
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
    ],
  },
  'hmac-sha256': {
    generate: pkcs11js.CKM_GENERIC_SECRET_KEY_GEN,
    use: pkcs11js.CKM_SHA256_HMAC,
    usage: [pkcs11js.CKA_SIGN, pkcs11js.CKA_VERIFY],
    pair: false,
    secretTemplate: [
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
    ],
  },
  'rsa-2048': rsa(2048),
  'rsa-3072': rsa(3072),
  'ec-p256': {
    generate: pkcs11js.CKM_EC_KEY_PAIR_GEN,
    use: pkcs11js.CKM_ECDSA,
    usage: [pkcs11js.CKA_SIGN],
    pair: true,
    publicTemplate: [{ type: pkcs11js.CKA_EC_PARAMS, value: P256_OID }],
  },
  ed25519: {
    generate: CKM_EC_EDWARDS_KEY_PAIR_GEN,
    use: CKM_EDDSA,
    usage: [pkcs11js.CKA_SIGN],
    pair: true,
    publicTemplate: [{ type: pkcs11js.CKA_EC_PARAMS, value: ED25519_OID }],
  },
}

/** The algorithms a token with these mechanisms can generate and use. */
export function supportedAlgorithms(mechanisms: readonly number[]): Algorithm[] {
  const offered = new Set(mechanisms)
  return (Object.keys(TOKEN_ALGORITHMS) as Algorithm[]).filter((algorithm) => {
    const spec = TOKEN_ALGORITHMS[algorithm]
    return [spec.generate, spec.use].every((m) => offered.has(m))
  })
}

/**
 * Attributes every object keyrotor creates carries: on the token, private to the logged-in
 * user, and for keys sensitive and never extractable, so the material cannot leave the token
 * (CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE follow from generating it this way).
 */
export function keyTemplates(
  algorithm: Algorithm,
  label: string,
  id: Buffer,
): { secret: Template } | { public: Template; private: Template } {
  const spec = TOKEN_ALGORITHMS[algorithm]
  const common: Template = [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_ID, value: id },
    { type: pkcs11js.CKA_MODIFIABLE, value: true },
  ]
  const secretParts: Template = [
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
  ]
  // every usage attribute set explicitly: a token's defaults (SoftHSM: decrypt and unwrap on a
  // private key) would let the key do more than its one job
  const usage = (types: number[]) => types.map((type) => ({ type, value: spec.usage.includes(type) }))
  if (!spec.pair) {
    return { secret: [...common, ...secretParts, ...usage(SECRET_USAGE), ...(spec.secretTemplate ?? [])] }
  }
  return {
    public: [
      ...common,
      { type: pkcs11js.CKA_PRIVATE, value: false },
      { type: pkcs11js.CKA_VERIFY, value: true },
      { type: pkcs11js.CKA_ENCRYPT, value: false },
      { type: pkcs11js.CKA_WRAP, value: false },
      { type: pkcs11js.CKA_DERIVE, value: false },
      ...(spec.publicTemplate ?? []),
    ],
    private: [...common, ...secretParts, ...usage(PRIVATE_USAGE)],
  }
}

const SECRET_USAGE = [
  pkcs11js.CKA_ENCRYPT,
  pkcs11js.CKA_DECRYPT,
  pkcs11js.CKA_SIGN,
  pkcs11js.CKA_VERIFY,
  pkcs11js.CKA_WRAP,
  pkcs11js.CKA_UNWRAP,
  pkcs11js.CKA_DERIVE,
]
const PRIVATE_USAGE = [pkcs11js.CKA_DECRYPT, pkcs11js.CKA_SIGN, pkcs11js.CKA_UNWRAP, pkcs11js.CKA_DERIVE]

/** The algorithm a key object holds, from its type and size; null when keyrotor did not make it. */
export function algorithmOfKey(
  keyType: number,
  size: { valueLen?: number; modulusBytes?: number },
): Algorithm | null {
  if (keyType === pkcs11js.CKK_AES && size.valueLen === 32) return 'aes-256-gcm'
  if (keyType === pkcs11js.CKK_GENERIC_SECRET && size.valueLen === 32) return 'hmac-sha256'
  if (keyType === pkcs11js.CKK_RSA && size.modulusBytes === 256) return 'rsa-2048'
  if (keyType === pkcs11js.CKK_RSA && size.modulusBytes === 384) return 'rsa-3072'
  if (keyType === pkcs11js.CKK_EC) return 'ec-p256'
  if (keyType === CKK_EC_EDWARDS) return 'ed25519'
  return null
}
