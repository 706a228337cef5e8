import type { KeyObject } from 'node:crypto'
import type { JSONWebKeySet, JWK } from 'jose'
import type { Notice, NoticeEvent, ProbeAnswer } from '../dependents/dependent-client.js'

export type { Notice, NoticeEvent, ProbeAnswer, JWK, JSONWebKeySet }

/**
 * What a service does with the key. `encrypt` and `sign` services use one active version (and
 * decrypt/verify with every accepted one); `decrypt` and `verify` services only accept, so their
 * probe answers `active: null` and keyrotor's `confirm` phase does not wait for them.
 */
export type DependentRole = 'encrypt' | 'decrypt' | 'sign' | 'verify'

/**
 * Where a version's material comes from before the service accepts it:
 * - `material`: `GET /v1/keys/{key}/versions/{n}/material` with a consumer token (private or secret key);
 * - `jwks`: the public `GET /v1/keys/{key}/jwks.json` (verifiers of asymmetric signatures);
 * - `none`: the service holds no material itself (e.g. it calls a KMS by alias) and only tracks versions.
 */
export type MaterialSource = 'material' | 'jwks' | 'none'

/** The answer of the material endpoint: the version's material as one JWK, `kid` = `{key}.v{n}`. */
export type MaterialResponse = JWK

/** The answer of the JWKS endpoint. */
export type JwksResponse = JSONWebKeySet

/** One loaded version: its JWK and the same key as a node:crypto KeyObject, ready for jose or node:crypto. */
export interface LoadedVersion {
  version: number
  /** `{key}.v{n}`: the kid of JWKs and of JWT headers. */
  kid: string
  jwk: JWK
  key: KeyObject
}

/** Request headers as node:http or fetch give them. */
export type NoticeHeaders = Headers | Record<string, string | string[] | undefined>

export const DEPENDENT_ERROR_CODES = [
  'BAD_NOTICE',
  'BAD_SIGNATURE',
  'WRONG_KEY',
  'FETCH_FAILED',
  'NOT_LOADED',
  'NO_ACTIVE_VERSION',
  'IN_USE',
  'HOOK_FAILED',
  'LISTEN_FAILED',
] as const
export type DependentErrorCode = (typeof DEPENDENT_ERROR_CODES)[number]

/** The one error type of the SDK; `code` is stable, the message is for people. */
export class DependentError extends Error {
  override readonly name = 'DependentError'
  readonly code: DependentErrorCode
  constructor(code: DependentErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
  }
}

/** A notice's `{status}` for each refusal: 4xx for what a retry cannot fix, 5xx for what it may. */
export const STATUS_OF: Record<DependentErrorCode, number> = {
  BAD_NOTICE: 400,
  BAD_SIGNATURE: 401,
  WRONG_KEY: 422,
  FETCH_FAILED: 503,
  NOT_LOADED: 409,
  NO_ACTIVE_VERSION: 409,
  IN_USE: 409,
  HOOK_FAILED: 500,
  // not a notice answer: listen() throws it; here only because the map covers every code
  LISTEN_FAILED: 500,
}

export interface NoticeResult {
  /** 2xx only once the notice is applied: keyrotor retries anything else until its deadline. */
  status: number
  /** Why a notice was refused; never a secret. */
  error?: string
}
