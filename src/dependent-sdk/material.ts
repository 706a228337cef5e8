import { createPrivateKey, createPublicKey, createSecretKey } from 'node:crypto'
import type { JsonWebKey, KeyObject } from 'node:crypto'
import { kidOf } from '../domain/algorithms.js'
import { fetchTrusting } from './trusting-fetch.js'
import { DependentError } from './types.js'
import type { JWK, JwksResponse, LoadedVersion, MaterialResponse } from './types.js'

export interface FetchMaterialOptions {
  /** keyrotor's base URL, e.g. `http://127.0.0.1:8420`. */
  keyrotorUrl: string
  /** A consumer token bound to this key (`keyrotor tokens create --user svc --role consumer --key KEY`). */
  token: string
  key: string
  version: number
  signal?: AbortSignal
  /** PEM of the CA (or self-signed certificate) of a keyrotor served over HTTPS. */
  ca?: string | Buffer
}

export interface FetchJwksOptions {
  keyrotorUrl: string
  key: string
  signal?: AbortSignal
  /** PEM of the CA (or self-signed certificate) of a keyrotor served over HTTPS. */
  ca?: string | Buffer
}

/**
 * Fetches one version's material (`GET /v1/keys/{key}/versions/{n}/material`) as a JWK.
 * Throws DependentError `FETCH_FAILED` with the HTTP status; the token never appears in it.
 */
export async function fetchMaterial(options: FetchMaterialOptions): Promise<MaterialResponse> {
  const path = `/v1/keys/${encodeURIComponent(options.key)}/versions/${options.version}/material`
  const body = await getJson(options.keyrotorUrl, path, options, options.token)
  if (!isJwk(body)) throw new DependentError('FETCH_FAILED', `${path} did not answer a JWK`)
  const expected = kidOf(options.key, options.version)
  if (body.kid !== undefined && body.kid !== expected) {
    throw new DependentError('FETCH_FAILED', `${path} answered kid ${body.kid}, expected ${expected}`)
  }
  return body
}

/** Fetches the key's public JWKS (`GET /v1/keys/{key}/jwks.json`; no token needed). */
export async function fetchJwks(options: FetchJwksOptions): Promise<JwksResponse> {
  const path = `/v1/keys/${encodeURIComponent(options.key)}/jwks.json`
  const body = await getJson(options.keyrotorUrl, path, options)
  const keys = (body as { keys?: unknown } | null)?.keys
  if (!Array.isArray(keys) || !keys.every(isJwk)) {
    throw new DependentError('FETCH_FAILED', `${path} did not answer a JWK set`)
  }
  return { keys }
}

/** The version of a kid `{key}.v{n}` of this key, or undefined for any other kid. */
export function versionOfKid(key: string, kid: string | undefined): number | undefined {
  if (kid === undefined || !kid.startsWith(`${key}.v`)) return undefined
  const digits = kid.slice(key.length + 2)
  return /^[1-9]\d{0,8}$/.test(digits) ? Number(digits) : undefined
}

/** Turns a JWK into a KeyObject once, so every encrypt/sign call does not re-import it. */
export function loadVersion(key: string, version: number, jwk: JWK): LoadedVersion {
  let keyObject: KeyObject
  try {
    if (jwk.kty === 'oct') {
      if (typeof jwk.k !== 'string') throw new Error('an oct JWK without "k"')
      keyObject = createSecretKey(Buffer.from(jwk.k, 'base64url'))
    } else {
      const input = { key: jwk as JsonWebKey, format: 'jwk' as const }
      keyObject = jwk.d !== undefined ? createPrivateKey(input) : createPublicKey(input)
    }
  } catch (error) {
    throw new DependentError('FETCH_FAILED', `the material of ${kidOf(key, version)} is not a usable key`, {
      cause: error,
    })
  }
  return { version, kid: kidOf(key, version), jwk, key: keyObject }
}

async function getJson(
  baseUrl: string,
  path: string,
  { signal, ca }: { signal?: AbortSignal | undefined; ca?: string | Buffer | undefined },
  token?: string,
): Promise<unknown> {
  // Concatenated, not resolved, so a base URL with a path prefix keeps its prefix.
  const url = `${baseUrl.replace(/\/+$/, '')}${path}`
  const headers: Record<string, string> = { accept: 'application/json' }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  let response: Response
  try {
    response = await fetchTrusting(ca)(url, { headers, signal: signal ?? AbortSignal.timeout(10_000) })
  } catch (error) {
    throw new DependentError('FETCH_FAILED', `GET ${path} failed: ${(error as Error).message}`, {
      cause: error,
    })
  }
  if (!response.ok) {
    const problem = await response.text().catch(() => '')
    const detail = problem === '' ? '' : `: ${problem.slice(0, 200)}`
    throw new DependentError('FETCH_FAILED', `GET ${path} answered HTTP ${response.status}${detail}`)
  }
  try {
    return await response.json()
  } catch (error) {
    throw new DependentError('FETCH_FAILED', `GET ${path} answered something that is not JSON`, {
      cause: error,
    })
  }
}

function isJwk(value: unknown): value is JWK {
  return typeof value === 'object' && value !== null && typeof (value as { kty?: unknown }).kty === 'string'
}
