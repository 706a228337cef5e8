import { z } from 'zod'
import { decodeJsonColumn, encodeJsonColumn } from './json-column.js'

/** A public JWK (`local_keystore.public_jwk`): its members kept as they are, `kty` required. */
const publicJwkSchema = z.looseObject({
  kty: z.string(),
  kid: z.string().optional(),
  alg: z.string().optional(),
})

export type StoredJwk = z.output<typeof publicJwkSchema>

/** `local_keystore.public_jwk` of version `kid`: null for a symmetric key. */
export function decodePublicJwk(text: string | null, kid: string): StoredJwk | null {
  return text === null
    ? null
    : decodeJsonColumn(publicJwkSchema, text, { table: 'local_keystore', column: 'public_jwk', row: kid })
}

export function encodePublicJwk(jwk: StoredJwk | null): string | null {
  return jwk === null ? null : encodeJsonColumn(publicJwkSchema, jwk)
}
