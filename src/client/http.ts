import { ERROR_CODES, KeyrotorError } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import { fetchTransport, nodeTransport, type TransportResponse } from './node-transport.js'

export interface ApiResponse<T> {
  status: number
  body: T
  /** A list route's X-Next-Cursor: where the next page starts (absent on the last page). */
  nextCursor?: string | undefined
}

export interface ApiClient {
  readonly baseUrl: string
  get<T>(path: string, query?: Record<string, string | undefined>, options?: RequestOptions): Promise<T>
  /** A GET with its status and next cursor as well as its body. */
  getResponse<T>(
    path: string,
    query?: Record<string, string | undefined>,
    options?: RequestOptions,
  ): Promise<ApiResponse<T>>
  post<T>(path: string, body?: unknown, options?: RequestOptions): Promise<ApiResponse<T>>
}

export interface RequestOptions {
  /** Aborts the request (e.g. the user detached with Ctrl-C). */
  signal?: AbortSignal
  /** Overall request timeout; long-polls pass one longer than their wait. */
  timeoutMs?: number
  /** Further request headers (e.g. `idempotency-key`). */
  headers?: Record<string, string>
}

const DEFAULT_TIMEOUT_MS = 30_000

/** The code a status implies when the body is not a problem document (a proxy's error page). */
function codeForStatus(status: number): ErrorCode {
  if (status === 400) return 'BAD_REQUEST'
  if (status === 401) return 'UNAUTHENTICATED'
  if (status === 403) return 'FORBIDDEN'
  if (status === 404) return 'NOT_FOUND'
  // a proxy's or load balancer's "no backend now": as safe to rerun as an unreachable server
  if (status === 502 || status === 503 || status === 504) return 'UNREACHABLE'
  return 'INTERNAL'
}

function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value)
}

function problemOf(response: TransportResponse): KeyrotorError {
  const text = response.text
  let problem: Record<string, unknown> = {}
  try {
    const parsed: unknown = JSON.parse(text)
    if (parsed !== null && typeof parsed === 'object') problem = parsed as Record<string, unknown>
  } catch {
    // not JSON: fall back to the status line
  }
  const code = isErrorCode(problem.code)
    ? problem.code
    : problem.code === undefined
      ? codeForStatus(response.status)
      : 'INTERNAL'
  const detail =
    typeof problem.detail === 'string'
      ? problem.detail
      : typeof problem.title === 'string'
        ? problem.title
        : `HTTP ${response.status} ${response.statusText}`.trim()
  const correlationId = typeof problem.correlationId === 'string' ? problem.correlationId : undefined
  const details: Record<string, unknown> = { status: response.status }
  if (correlationId !== undefined) details.correlationId = correlationId
  // keep the extra members (e.g. the id of the run already holding the key)
  for (const [name, value] of Object.entries(problem)) {
    if (!['type', 'title', 'status', 'detail', 'code', 'correlationId'].includes(name)) details[name] = value
  }
  return new KeyrotorError(code, detail, { details })
}

/** How the client reaches the server: `fetch` if given, else node:http(s) trusting `ca` too. */
export interface ClientConnection {
  url: string
  token: string | undefined
  /** PEM of a CA to trust besides Node's roots (a server started with `--tls-cert`). */
  ca?: Buffer | string | undefined
  /** Replaces node:http(s) (tests, runtimes with their own fetch). */
  fetch?: typeof fetch | undefined
}

/** A thin HTTP wrapper: Bearer auth, JSON in and out, problem+json → KeyrotorError. */
export function createApiClient(options: ClientConnection): ApiClient {
  const baseUrl = options.url.replace(/\/+$/, '')
  const send = options.fetch === undefined ? nodeTransport({ ca: options.ca }) : fetchTransport(options.fetch)

  async function request<T>(
    method: string,
    path: string,
    body: unknown,
    opts: RequestOptions,
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers, accept: 'application/json' }
    if (options.token) headers.authorization = `Bearer ${options.token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout
    let response: TransportResponse
    try {
      response = await send(`${baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      })
    } catch (error) {
      // the caller's own abort is not a network failure: let it through as is
      if (opts.signal?.aborted) throw error
      throw new KeyrotorError(
        'UNREACHABLE',
        `cannot reach keyrotor at ${baseUrl}: ${timeout.aborted ? 'the request timed out' : describeNetworkError(error)}`,
        {
          retryable: true,
          cause: error,
        },
      )
    }
    if (response.status < 200 || response.status > 299) throw problemOf(response)
    const text = response.text
    return {
      status: response.status,
      body: (text === '' ? null : JSON.parse(text)) as T,
      nextCursor: response.header('x-next-cursor'),
    }
  }

  return {
    baseUrl,
    async get<T>(path: string, query: Record<string, string | undefined> = {}, opts: RequestOptions = {}) {
      return (await request<T>('GET', withQuery(path, query), undefined, opts)).body
    },
    async getResponse<T>(
      path: string,
      query: Record<string, string | undefined> = {},
      opts: RequestOptions = {},
    ) {
      return request<T>('GET', withQuery(path, query), undefined, opts)
    },
    async post<T>(path: string, body: unknown = {}, opts: RequestOptions = {}) {
      return request<T>('POST', path, body, opts)
    },
  }
}

function withQuery(path: string, query: Record<string, string | undefined>): string {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, value)
  return params.size > 0 ? `${path}?${params.toString()}` : path
}

/** The reason a request failed (ECONNREFUSED, ENOTFOUND); fetch hides it in `cause`. */
function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const cause = (error as Error & { cause?: unknown }).cause
  const reason = cause instanceof Error ? cause : error
  const code = (reason as Error & { code?: unknown }).code
  return typeof code === 'string' ? `${code} (${reason.message})` : reason.message
}

/** Path segments come from the user: never let one escape into another route. */
export function seg(value: string): string {
  return encodeURIComponent(value)
}
