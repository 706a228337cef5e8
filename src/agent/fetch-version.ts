import { fetchJwks, versionOfKid } from '../dependent-sdk/material.js'
import { DependentError } from '../dependent-sdk/types.js'
import type { AgentKeyConfig } from './agent-config.js'
import type { Handed } from './key-files.js'

export interface FetchVersionOptions {
  keyrotorUrl: string
  config: AgentKeyConfig
  /** The consumer token (from the key's tokenEnv); the verify role reads the public JWKS without one. */
  token: string | undefined
  /** From the notice: what the file holds when the backend never lets the material out. */
  providerRef: string | undefined
  version: number
}

/**
 * What to hand the service for one version: the private or secret material (consumer token), the
 * public key from the JWKS (verify role), or the providerRef when the material endpoint answers
 * 409 MATERIAL_UNAVAILABLE (an HSM or KMS key). Throws DependentError FETCH_FAILED naming the key;
 * never the token.
 */
export async function fetchVersion(options: FetchVersionOptions): Promise<Handed> {
  const { config, version } = options
  const what = `${config.key} v${version}`
  if (config.role === 'verify') {
    const { keys } = await fetchJwks({ keyrotorUrl: options.keyrotorUrl, key: config.key })
    const jwk = keys.find((k) => versionOfKid(config.key, k.kid) === version)
    if (jwk !== undefined) return { kind: 'material', jwk }
    if (options.providerRef !== undefined) return { kind: 'providerRef', providerRef: options.providerRef }
    throw new DependentError('FETCH_FAILED', `the JWKS of ${config.key} has no v${version} (yet)`)
  }
  if (options.token === undefined || options.token === '') {
    throw new DependentError(
      'FETCH_FAILED',
      `no consumer token for key ${config.key}: set ${config.tokenEnv ?? 'keyrotor.tokenEnv'} to a token made with \`keyrotor tokens create --role consumer --key ${config.key}\``,
    )
  }
  const url = `${options.keyrotorUrl.replace(/\/+$/, '')}/v1/keys/${encodeURIComponent(config.key)}/versions/${version}/material`
  let response: Response
  try {
    response = await fetch(url, {
      headers: { accept: 'application/json', authorization: `Bearer ${options.token}` },
      signal: AbortSignal.timeout(10_000),
    })
  } catch (error) {
    throw new DependentError(
      'FETCH_FAILED',
      `material of ${what}: keyrotor unreachable (${(error as Error).message})`,
    )
  }
  const body = (await response.json().catch(() => null)) as Record<string, unknown> | null
  if (response.ok && typeof body?.kty === 'string') return { kind: 'material', jwk: body }
  if (response.status === 401 || response.status === 403) {
    throw new DependentError(
      'FETCH_FAILED',
      `material of ${what} refused (HTTP ${response.status}): the token in ${config.tokenEnv ?? 'keyrotor.tokenEnv'} is not a consumer token bound to key ${config.key}` +
        (typeof body?.detail === 'string' ? ` (${body.detail})` : ''),
    )
  }
  if (response.status === 409 && body?.code === 'MATERIAL_UNAVAILABLE') {
    const ref = typeof body.providerRef === 'string' ? body.providerRef : options.providerRef
    if (ref !== undefined) return { kind: 'providerRef', providerRef: ref }
    throw new DependentError(
      'FETCH_FAILED',
      `${what} never leaves its backend, and the notice named no providerRef`,
    )
  }
  const detail = typeof body?.detail === 'string' ? `: ${body.detail}` : ''
  throw new DependentError('FETCH_FAILED', `material of ${what} answered HTTP ${response.status}${detail}`)
}
