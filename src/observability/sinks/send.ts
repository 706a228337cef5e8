import type { Kysely } from 'kysely'
import type { Database } from '../../store/tables.js'
import { deliverTicket } from '../tickets/ticket-delivery.js'
import { reasonOf, TicketDeliveryError } from '../tickets/ticket-http.js'
import { SINK_FORMATTERS } from './sink-registry.js'
import { isTicketSinkType, type Notification, type SinkTarget } from './sink.js'

/**
 * The outcome of one delivery attempt; `error` is safe to store and log (no URL, no secret).
 * `permanent`: the receiver refused the request as it is, so sending it again cannot help.
 */
export type Attempt = { ok: true } | { ok: false; error: string; permanent?: boolean }

export interface SendOptions {
  secretOf: (name: string) => string | undefined
  timeoutMs: number
  /** Aborts the attempt when the process stops. */
  signal: AbortSignal
  nowMs: number
  /** Where ticketing sinks remember the ticket of each incident. */
  db: Kysely<Database>
  /** Attempts made before this one: a ticketing sink looks for a ticket an earlier one opened. */
  previousAttempts: number
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
  if (isTicketSinkType(target.type)) return sendTicket(target, notification, secret, scrub, options)
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

async function sendTicket(
  target: SinkTarget,
  notification: Notification,
  secret: string | undefined,
  scrub: (text: string) => string,
  options: SendOptions,
): Promise<Attempt> {
  if (notification.channel !== 'incidents' || target.ticket === undefined) {
    return { ok: false, error: 'a ticketing sink takes incidents only', permanent: true }
  }
  try {
    await deliverTicket(
      {
        sink: target.id,
        url: target.url,
        settings: target.ticket,
        secret,
        event: notification.event,
        incident: notification.incident,
        comment: notification.comment,
        retry: options.previousAttempts > 0,
      },
      { db: options.db, timeoutMs: options.timeoutMs, signal: options.signal, now: () => new Date(), scrub },
    )
    return { ok: true }
  } catch (error) {
    if (error instanceof TicketDeliveryError) {
      return { ok: false, error: error.message, permanent: error.permanent }
    }
    // the store, not the ticketing system: try again later
    return { ok: false, error: scrub(`could not record the ticket: ${reasonOf(error)}`) }
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

function scrubbed(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text
  for (const s of secrets) if (s !== undefined && s !== '') out = out.replaceAll(s, '[redacted]')
  return out
}
