/**
 * The HTTP calls of a ticketing sink. A ticketing API that answers 4xx has refused the request
 * as it is (a bad token, a missing project, a field it rejects): sending it again cannot help,
 * so the delivery fails at once with the answer. 408, 429, 5xx and a network failure are
 * passing troubles and are retried with the outbox's backoff.
 */
export class TicketDeliveryError extends Error {
  override readonly name = 'TicketDeliveryError'
  constructor(
    message: string,
    /** True when a retry cannot succeed: the row is marked failed and left for a person. */
    readonly permanent: boolean,
  ) {
    super(message)
  }
}

export type TicketMethod = 'GET' | 'POST' | 'PUT' | 'PATCH'

/** One authenticated JSON client for one ticketing sink and one delivery attempt. */
export interface TicketHttp {
  /** Sends one request; resolves to the parsed JSON answer (null when empty). `step` names it in errors. */
  call(step: string, method: TicketMethod, url: string, body?: unknown): Promise<unknown>
}

export interface TicketHttpOptions {
  /** Authorization and the system's own headers (GitHub's Accept and API version). */
  headers: Record<string, string>
  timeoutMs: number
  signal: AbortSignal
  /** Removes credentials and credential-bearing URLs from a text before it is stored or logged. */
  scrub: (text: string) => string
}

const RETRYABLE = new Set([408, 425, 429])
/** How much of an answer is kept in `last_error`: enough to read the API's reason. */
const ANSWER_CHARS = 300

export function createTicketHttp(options: TicketHttpOptions): TicketHttp {
  return {
    async call(step, method, url, body) {
      let response: Response
      try {
        response = await fetch(url, {
          method,
          headers: {
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...options.headers,
          },
          body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
          redirect: 'error',
          signal: AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]),
        })
      } catch (error) {
        if (options.signal.aborted) throw new TicketDeliveryError('interrupted: keyrotor stopped', false)
        if (error instanceof Error && error.name === 'TimeoutError') {
          throw new TicketDeliveryError(`${step}: no answer within ${options.timeoutMs} ms`, false)
        }
        throw new TicketDeliveryError(
          options.scrub(`${step}: could not be reached: ${reasonOf(error)}`),
          false,
        )
      }
      const text = await response.text().catch(() => '')
      if (!response.ok) {
        const answer = text.replace(/\s+/g, ' ').trim().slice(0, ANSWER_CHARS)
        const permanent = response.status < 500 && !RETRYABLE.has(response.status)
        throw new TicketDeliveryError(
          options.scrub(`${step}: HTTP ${response.status}${answer === '' ? '' : `: ${answer}`}`),
          permanent,
        )
      }
      if (text.trim() === '') return null
      try {
        return JSON.parse(text) as unknown
      } catch {
        return null
      }
    },
  }
}

/** A member of a JSON answer by dotted path (`result.sys_id`), as a string, or undefined. */
export function memberAt(answer: unknown, path: string): string | undefined {
  let value = answer
  for (const name of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined
    value = (value as Record<string, unknown>)[name]
  }
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined
}

/** The ticket id in an answer, or a permanent failure saying which member was missing. */
export function requiredMember(answer: unknown, path: string, step: string): string {
  const value = memberAt(answer, path)
  if (value === undefined || value === '') {
    throw new TicketDeliveryError(
      `${step}: the answer has no ${path}, so the ticket cannot be followed`,
      true,
    )
  }
  return value
}

/** Why a request failed, for messages: the network error's code when there is one (fetch wraps it). */
export function reasonOf(error: unknown): string {
  const cause =
    error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined
  if (cause?.code !== undefined) return cause.code
  if (cause?.message !== undefined) return cause.message
  return error instanceof Error ? error.message : String(error)
}
