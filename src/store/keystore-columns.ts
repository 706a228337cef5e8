import { z } from 'zod'
import { decodeJsonColumn, encodeJsonColumn } from './json-column.js'

/** A JWK (`local_keystore.public_jwk`, and the sealed material once opened): its members kept as they are, `kty` required. */
const jwkSchema = z.looseObject({
  kty: z.string(),
  kid: z.string().optional(),
  alg: z.string().optional(),
})

export type StoredJwk = z.output<typeof jwkSchema>

/** `local_keystore.public_jwk` of version `kid`: null for a symmetric key. */
export function decodePublicJwk(text: string | null, kid: string): StoredJwk | null {
  return text === null
    ? null
    : decodeJsonColumn(jwkSchema, text, { table: 'local_keystore', column: 'public_jwk', row: kid })
}

export function encodePublicJwk(jwk: StoredJwk | null): string | null {
  return jwk === null ? null : encodeJsonColumn(jwkSchema, jwk)
}

/**
 * The private JWK of version `kid`, from `local_keystore.sealed_material` once the provider opened
 * it (the store never sees the master key). Damage is named without a word of the material.
 */
export function decodeOpenedMaterial(plaintext: string, kid: string): StoredJwk {
  return decodeJsonColumn(jwkSchema, plaintext, {
    table: 'local_keystore',
    column: 'sealed_material',
    row: kid,
  })
}

export function encodeMaterialForSealing(jwk: StoredJwk): string {
  return encodeJsonColumn(jwkSchema, jwk)
}
