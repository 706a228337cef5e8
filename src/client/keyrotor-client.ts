/** The typed client: calls an operation by its operationId (see index.ts for the package's surface). */
import type { z } from 'zod'
import {
  createApiClient,
  type ApiClient,
  type ApiResponse,
  type ClientConnection,
  type RequestOptions,
} from './http.js'
import { OPERATION_ROUTES, type OperationId } from './operation-routes.js'
// types only: the schemas (and zod) are not loaded to make a call
import type { OPERATIONS } from './operations.js'

type Spec<Id extends OperationId> = (typeof OPERATIONS)[Id]
type Part<S, Name extends string, Optional extends boolean> = S extends { [K in Name]: z.ZodType }
  ? Optional extends true
    ? { [K in Name]?: z.input<S[K]> }
    : { [K in Name]: z.input<S[K]> }
  : { [K in Name]?: never }
// a query travels as text and the server checks it (400 naming the parameter): a caller may pass
// what a person typed (a state filter) without parsing it first
type Query<S> = S extends { query: z.ZodType }
  ? { query?: { [K in keyof z.input<S['query']>]?: z.input<S['query']>[K] | string } }
  : { query?: never }

/** What one operation takes: its path parameters, query and body, each as its schema reads them. */
export type OperationInput<Id extends OperationId> = Part<Spec<Id>, 'params', false> &
  Query<Spec<Id>> &
  Part<Spec<Id>, 'body', true> & {
    /** Sent as the `Idempotency-Key` header (rotations, forward corrections). */
    idempotencyKey?: string
  }

/** What one operation answers on success, as its schema writes it. */
export type OperationOutput<Id extends OperationId> = z.output<Spec<Id>['response']>

export interface KeyrotorClient extends ApiClient {
  /** Calls an operation by its operationId in /openapi.json; the status tells 200 from 201/202. */
  call<Id extends OperationId>(
    operation: Id,
    input?: OperationInput<Id>,
    options?: RequestOptions,
  ): Promise<ApiResponse<OperationOutput<Id>>>
}

export function createKeyrotorClient(options: ClientConnection): KeyrotorClient {
  const http = createApiClient(options)
  return {
    ...http,
    async call<Id extends OperationId>(
      operation: Id,
      input: OperationInput<Id> = {} as OperationInput<Id>,
      requestOptions: RequestOptions = {},
    ): Promise<ApiResponse<OperationOutput<Id>>> {
      const spec: { method: 'GET' | 'POST'; path: string } = OPERATION_ROUTES[operation]
      const given = input as { params?: object; query?: object; body?: unknown; idempotencyKey?: string }
      const path = fillPath(spec.path, given.params ?? {})
      const withKey =
        given.idempotencyKey === undefined
          ? requestOptions
          : { ...requestOptions, headers: { 'idempotency-key': given.idempotencyKey } }
      if (spec.method === 'GET') {
        return http.getResponse<OperationOutput<Id>>(path, queryOf(given.query ?? {}), withKey)
      }
      return http.post<OperationOutput<Id>>(path, given.body ?? {}, withKey)
    },
  }
}

/** `/v1/keys/{key}` with `{ key: 'a/b' }` → `/v1/keys/a%2Fb`: a value never escapes its segment. */
function fillPath(template: string, params: object): string {
  const values = params as Record<string, unknown>
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = values[name]
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new TypeError(`${template}: path parameter ${name} must be a string or a number`)
    }
    return encodeURIComponent(value)
  })
}

function queryOf(query: object): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(query as Record<string, string | number | boolean | undefined>).map(([name, value]) => [
      name,
      value === undefined ? undefined : String(value),
    ]),
  )
}
