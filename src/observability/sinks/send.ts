import { SINK_FORMATTERS } from './sink-registry.js'
import type { Notification, SinkTarget } from './sink.js'

/** The outcome of one delivery attempt; `error` is safe to store and log (no URL, no secret). */
export type Attempt = { ok: true } | { ok: false; error: string }

export interface SendOptions {
  secretOf: (name: string) => string | undefined
  timeoutMs: number
  /** Aborts the attempt when the process stops. */
  signal: AbortSignal
  nowMs: number
}

/**
 * One POST of one notification to one target. Any 2xx is a delivery; everything else, a
 * timeout included, is a failed attempt to retry later. Never throws.
 */
export async function sendOnce(
  target: SinkTarget,
  notification: Notification,
  options: SendOptions,
): Promise<Attempt> {
  const secret = target.secretEnv === undefined ? undefined : options.secretOf(target.secretEnv)
  if (target.secretEnv !== undefined && (secret === undefined || secret === '')) {
    return { ok: false, error: `secretEnv ${target.secretEnv} is not set` }
  }
  const scrub = (text: string) => scrubbed(text, [target.url, secret])
  try {
    const request = SINK_FORMATTERS[target.type](notification, secret, options.nowMs)
    const response = await fetch(target.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'error',
      signal: AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]),
    })
    const text = await response.text().catch(() => '')
    if (response.ok) return { ok: true }
    return {
      ok: false,
      error: scrub(`HTTP ${response.status}${text === '' ? '' : `: ${text.slice(0, 200)}`}`),
    }
  } catch (error) {
    if (options.signal.aborted) return { ok: false, error: 'interrupted: keyrotor stopped' }
    if (error instanceof Error && error.name === 'TimeoutError') {
      return { ok: false, error: `no answer within ${options.timeoutMs} ms` }
    }
    return { ok: false, error: scrub(`could not be reached: ${reasonOf(error)}`) }
  }
}

/** Capped exponential backoff with jitter: attempt 1 waits about `baseMs`, never more than `maxMs`. */
export function backoffMs(attempts: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1))
  // half fixed, half random: retries of many rows after an outage do not all land at once
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2)
}

/** The host of a URL, for messages: the path of a Slack webhook URL is its credential. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host
  } catch {
    return '?'
  }
}

function reasonOf(error: unknown): string {
  const cause =
    error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined
  if (cause?.code !== undefined) return cause.code
  if (cause?.message !== undefined) return cause.message
  return error instanceof Error ? error.message : String(error)
}

function scrubbed(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text
  for (const s of secrets) if (s !== undefined && s !== '') out = out.replaceAll(s, '[redacted]')
  return out
}
