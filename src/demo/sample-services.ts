import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { SignJWT, jwtVerify } from 'jose'
import type { JWTPayload } from 'jose'
import { createDependent } from '../dependent-sdk/index.js'
import type { Dependent, DependentOptions, JWK, LoadedVersion, ProbeAnswer } from '../dependent-sdk/index.js'

/**
 * Sample dependent services for `keyrotor demo` and the end-to-end tests. They are built only on
 * the public SDK (`keyrotor/dependent`), as a user's service would be.
 */
export interface SampleServiceOptions {
  key: string
  keyrotorUrl: string
  /** The notice secret shared with keyrotor (the dependent's `notify.secretEnv`). */
  secret?: string
  port?: number
  host?: string
  name?: string
}

export interface SampleService {
  name: string
  url: string
  probeUrl: string
  notifyUrl: string
  dependent: Dependent
  probeAnswer(): ProbeAnswer
  close(): Promise<void>
}

/** A record encrypted under one version of the data key. */
export interface EncryptedRecord {
  version: number
  iv: string
  ciphertext: string
  tag: string
}

export interface DataKeyService extends SampleService {
  /** Encrypts with the active version. */
  encrypt(text: string): EncryptedRecord
  /** Decrypts with the record's version, if this service still accepts it. */
  decrypt(record: EncryptedRecord): string
  /** Re-encrypts under the active version: what a service does before it lets go of an old one. */
  rewrap(record: EncryptedRecord): EncryptedRecord
}

export interface JwtIssuer extends SampleService {
  /** Signs a JWT with the active private key; its `kid` header is `{key}.v{n}`. */
  issue(claims?: JWTPayload): Promise<string>
}

export interface JwtVerifier extends SampleService {
  /** Verifies a JWT against the versions this service accepts; throws when it cannot. */
  verify(token: string): Promise<JWTPayload>
}

/** Starts a service that encrypts records with the active AES-256-GCM data key. */
export async function startDataKeyService(
  options: SampleServiceOptions & { token: string; activeVersion?: number },
): Promise<DataKeyService> {
  const base = await start(
    options,
    'data-key-service',
    { role: 'encrypt', token: options.token },
    options.activeVersion,
  )
  const { dependent } = base
  // The additional data binds a ciphertext to its version: a record cannot be replayed under another one.
  const aad = (material: LoadedVersion) => Buffer.from(material.kid)
  const encrypt = (text: string): EncryptedRecord => {
    const material = dependent.activeMaterial()
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', material.key, iv).setAAD(aad(material))
    const ciphertext = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()])
    const b64 = (buffer: Buffer) => buffer.toString('base64url')
    return {
      version: material.version,
      iv: b64(iv),
      ciphertext: b64(ciphertext),
      tag: b64(cipher.getAuthTag()),
    }
  }
  const decrypt = (record: EncryptedRecord): string => {
    const material = dependent.materialFor(record.version)
    if (material === undefined)
      throw new Error(`version ${record.version} of ${options.key} is not accepted here`)
    const decipher = createDecipheriv('aes-256-gcm', material.key, Buffer.from(record.iv, 'base64url'))
    decipher.setAAD(aad(material)).setAuthTag(Buffer.from(record.tag, 'base64url'))
    const plain = Buffer.concat([
      decipher.update(Buffer.from(record.ciphertext, 'base64url')),
      decipher.final(),
    ])
    return plain.toString('utf8')
  }
  return { ...base, encrypt, decrypt, rewrap: (record) => encrypt(decrypt(record)) }
}

/** Starts a service that signs JWTs with the active private key of an asymmetric key. */
export async function startJwtIssuer(
  options: SampleServiceOptions & { token: string; activeVersion?: number },
): Promise<JwtIssuer> {
  const base = await start(
    options,
    'jwt-issuer',
    { role: 'sign', token: options.token },
    options.activeVersion,
  )
  const issue = async (claims: JWTPayload = {}) => {
    const material = base.dependent.activeMaterial()
    return new SignJWT(claims)
      .setProtectedHeader({ alg: jwsAlgorithm(material.jwk), kid: material.kid })
      .setIssuer(base.name)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(material.key)
  }
  return { ...base, issue }
}

/** Starts a verify-only service: it loads public keys from the JWKS and answers `active: null`. */
export async function startJwtVerifier(options: SampleServiceOptions): Promise<JwtVerifier> {
  const base = await start(options, 'jwt-verifier', { role: 'verify' })
  const verify = async (token: string) => {
    const { payload } = await jwtVerify(token, (header) => {
      const material = base.dependent.materialForKid(header.kid)
      if (material === undefined) throw new Error(`kid ${header.kid ?? '(none)'} is not accepted here`)
      // The algorithm comes from the key, never from the token alone.
      if (header.alg !== jwsAlgorithm(material.jwk))
        throw new Error(`alg ${header.alg} does not fit ${material.kid}`)
      return material.key
    })
    return payload
  }
  return { ...base, verify }
}

/** The JWS algorithm a key signs with: its `alg` if published, else the one its type implies. */
export function jwsAlgorithm(jwk: JWK): string {
  if (jwk.alg !== undefined) return jwk.alg
  if (jwk.kty === 'RSA') return 'RS256'
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256'
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA'
  throw new Error(`no JWS algorithm for a ${jwk.kty ?? 'typeless'} key`)
}

async function start(
  options: SampleServiceOptions,
  defaultName: string,
  role: Pick<DependentOptions, 'role' | 'token'>,
  activeVersion?: number,
): Promise<SampleService> {
  const dependent = createDependent({
    key: options.key,
    keyrotorUrl: options.keyrotorUrl,
    secret: options.secret,
    ...role,
  })
  // A freshly created demo key starts at version 1; a verifier reads what it accepts from the JWKS.
  await dependent.bootstrap(role.role === 'verify' ? {} : (activeVersion ?? 1))
  const listening = await dependent.listen(options.port ?? 0, options.host ?? '127.0.0.1')
  return {
    name: options.name ?? defaultName,
    url: listening.url,
    probeUrl: listening.probeUrl,
    notifyUrl: listening.notifyUrl,
    dependent,
    probeAnswer: () => dependent.probeAnswer(),
    close: () => dependent.close(),
  }
}
