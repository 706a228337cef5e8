// The console talks to the server only through its public HTTP API, with the user's bearer token.
// The token lives in sessionStorage (gone with the tab) and is never put in a cookie, so no
// request is ever authenticated by the browser on its own: there is nothing for CSRF to ride on.

const TOKEN_KEY = 'keyrotor.token'

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY)
}

export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY)
  else sessionStorage.setItem(TOKEN_KEY, token)
}

/** A refused or failed request, with the problem's `detail` (RFC 9457) when the server sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(detail)
  }
}

type Listener = (error: ApiError) => void
const unauthenticatedListeners = new Set<Listener>()

/** Called when the server says the token is no longer good: the app goes back to sign-in. */
export function onUnauthenticated(listener: Listener): () => void {
  unauthenticatedListeners.add(listener)
  return () => unauthenticatedListeners.delete(listener)
}

export function authHeaders(token = storedToken()): Record<string, string> {
  return token === null ? {} : { authorization: `Bearer ${token}` }
}

/** Calls the API; JSON in and out. Throws ApiError with the problem's detail on any non-2xx. */
export async function api<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers: {
        accept: 'application/json',
        ...authHeaders(token ?? storedToken()),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
      credentials: 'omit',
    })
  } catch {
    throw new ApiError(0, 'UNREACHABLE', 'the keyrotor server does not answer')
  }
  const text = await response.text()
  if (!response.ok) {
    const error = problemOf(response.status, text)
    if (response.status === 401 && token === undefined) for (const l of unauthenticatedListeners) l(error)
    throw error
  }
  return (text === '' ? null : JSON.parse(text)) as T
}

function problemOf(status: number, text: string): ApiError {
  try {
    const problem = JSON.parse(text) as { code?: string; detail?: string; title?: string }
    return new ApiError(status, problem.code ?? 'ERROR', problem.detail ?? problem.title ?? `HTTP ${status}`)
  } catch {
    return new ApiError(status, 'ERROR', `HTTP ${status}`)
  }
}
