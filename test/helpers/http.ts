import type { ResponseChecker } from './documented-responses.js'

/** The problem+json body of a refusal, as the server declares it. */
export type { Problem } from '../../src/http/problem.js'

export interface ApiResponse<T> {
  status: number
  /** The parsed JSON body (problems included), the text for other media types, null when empty. */
  body: T
  /** The body as it came, for suites that look for what it must not contain. */
  text: string
  headers: Headers
}

export interface ApiRequest {
  method: string
  path: string
  token?: string | undefined
  body?: unknown
  /** When given, a response that /openapi.json does not document throws: the test fails. */
  checker?: ResponseChecker | undefined
}

/**
 * The one way the suites call keyrotor's API: a bearer token, a JSON body, the answer parsed by
 * its media type, and (with a checker) held against the server's own OpenAPI document.
 */
export async function request<T>(baseUrl: string, req: ApiRequest): Promise<ApiResponse<T>> {
  const { method, path, token, body, checker } = req
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await response.text()
  const contentType = response.headers.get('content-type')
  const parsed: unknown =
    text === '' ? null : contentType?.includes('json') === true ? JSON.parse(text) : text
  if (checker !== undefined) {
    const problems = checker.problemsWith({
      method,
      path,
      status: response.status,
      contentType,
      body: parsed,
    })
    if (problems.length > 0) throw new Error(`response outside /openapi.json:\n${problems.join('\n')}`)
  }
  return { status: response.status, body: parsed as T, text, headers: response.headers }
}

/** Calls the API of a server (in-process or a process) with a token, without the document check. */
export function call<T>(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiResponse<T>> {
  return request<T>(url, { method, path, token, body })
}

/** The API of one server as the flows (flows.ts) and suites call it: the admin's token by default. */
export type Api = <T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  token?: string,
) => Promise<ApiResponse<T>>

/** The API of the server at `url`, the given token by default, checked against a document if given. */
export function apiOf(url: string, defaultToken: string, checker?: ResponseChecker): Api {
  return (method, path, body, token = defaultToken) => request(url, { method, path, body, token, checker })
}
