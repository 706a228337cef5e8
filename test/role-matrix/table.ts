import { keyYaml } from '../helpers/sample-dependents.js'

/**
 * The table the role-matrix suites share: the routes of the running server's OpenAPI document
 * with the action each declares, their paths filled with existing ids, a minimal valid body, and
 * one request per cell.
 */

/** One operation of the OpenAPI document: the app's own list of its routes. */
export interface Route {
  method: string
  path: string
  action: string | null
  body: Record<string, unknown> | undefined
}

export interface Problem {
  code: string
  detail: string
  correlationId: string
}

/** Every operation in `/openapi.json`, in document order. */
export async function routesOf(url: string): Promise<Route[]> {
  const doc = (await (await fetch(`${url}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, Record<string, unknown>>>
  }
  const routes: Route[] = []
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const content = (
        operation.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined
      )?.content
      routes.push({
        method: method.toUpperCase(),
        path,
        action: (operation['x-keyrotor-action'] as string | null | undefined) ?? null,
        body: content?.['application/json']?.schema as Record<string, unknown> | undefined,
      })
    }
  }
  return routes
}

/** `{name}` placeholders filled with existing ids where the test has one, else a dummy. */
export function fill(path: string, ids: Record<string, string>): string {
  return path
    .replace(/\{([^}]+)\}/g, (_, name: string) => {
      const owner = /^\/v1\/([a-z-]+)\//.exec(path)?.[1] ?? ''
      return encodeURIComponent(ids[`${owner}.${name}`] ?? ids[name] ?? `dummy-${name}`)
    })
    .replace(/\*/g, '')
}

/**
 * A body that satisfies the declared JSON schema with the fewest fields: required properties
 * only, each the simplest value of its type. Used where the handler should really run.
 */
export function sampleOf(schema: unknown): unknown {
  const s = (schema ?? {}) as Record<string, unknown>
  if (Array.isArray(s.enum)) return s.enum[0]
  const types = Array.isArray(s.type)
    ? (s.type as string[])
    : [typeof s.type === 'string' ? s.type : 'object']
  const type = types.find((t) => t !== 'null') ?? 'null'
  switch (type) {
    case 'object': {
      const properties = (s.properties ?? {}) as Record<string, unknown>
      const required = (s.required ?? []) as string[]
      return Object.fromEntries(required.map((name) => [name, sampleOf(properties[name])]))
    }
    case 'string':
      return s.format === 'date-time' ? new Date(Date.now() + 86_400_000).toISOString() : 'side-door check'
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 1
    case 'boolean':
      return false
    case 'array':
      return []
    default:
      return null
  }
}

const TIMEOUT_MS = 15_000

/** Sends one request; reads the body only of refusals (a route may stream, e.g. server-sent events). */
export async function send(
  url: string,
  route: Route,
  path: string,
  options: { token?: string; correlationId: string; body?: unknown },
): Promise<{ status: number; problem: Problem | null }> {
  const writes = route.method !== 'GET' && route.method !== 'DELETE'
  const response = await fetch(`${url}${path}`, {
    method: route.method,
    headers: {
      'x-correlation-id': options.correlationId,
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(writes ? { 'content-type': 'application/json' } : {}),
    },
    ...(writes ? { body: JSON.stringify(options.body ?? {}) } : {}),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  })
  if (response.status === 401 || response.status === 403) {
    return { status: response.status, problem: (await response.json()) as Problem }
  }
  await response.body?.cancel()
  return { status: response.status, problem: null }
}

export const MATRIX_CONFIG = `keys:${keyYaml({ id: 'matrix-dek', algorithm: 'aes-256-gcm', dependents: [] })}${keyYaml(
  {
    id: 'other-dek',
    algorithm: 'ec-p256',
    dependents: [],
    // no verifier caches this JWKS: promote need not wait for one
    policy: '{ gracePeriod: 1h, phaseTimeout: 3s, jwksMaxAge: 0s }',
  },
)}`
