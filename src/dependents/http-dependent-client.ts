import { KeyrotorError } from '../errors.js'
import type { DependentClient, DependentTarget, Notice, ProbeAnswer } from './dependent-client.js'
import { runExecProbe } from './exec-probe.js'
import { notReady, parseProbeAnswer } from './probe-answer.js'
import { signedHeaders } from './signature.js'

export interface DependentClientDeps {
  /** Resolves a `notify.secretEnv` name to its value; main.ts passes a lookup into the environment. */
  secretOf: (envName: string) => string | undefined
  /** Per request (probe, notice, exec probe). Default 5000 ms. */
  requestTimeoutMs?: number
  /** The environment exec probes run in, besides KEYROTOR_KEY. Default: empty. */
  execEnv?: Record<string, string>
  /** The clock for signature timestamps, in milliseconds; for tests. */
  now?: () => number
}

const MAX_ANSWER_CHARS = 64 * 1024

/** The real {@link DependentClient}: HTTP probes and notices, and exec probes. */
export function createDependentClient(deps: DependentClientDeps): DependentClient {
  const timeoutMs = deps.requestTimeoutMs ?? 5000
  const now = deps.now ?? Date.now

  /** fetch with the caller's signal and our timeout; every failure becomes DEPENDENCY_NOT_READY. */
  async function send(
    target: DependentTarget,
    what: string,
    url: string,
    init: RequestInit,
    signal?: AbortSignal,
  ) {
    const timeout = AbortSignal.timeout(timeoutMs)
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
    try {
      const response = await fetch(url, { ...init, signal: combined, redirect: 'manual' })
      const text = await response.text()
      return { response, text }
    } catch (error) {
      if (signal?.aborted === true) throw signal.reason
      if (timeout.aborted) throw notReady(target, `did not answer its ${what} within ${timeoutMs} ms`, error)
      throw notReady(target, `could not be reached for its ${what}: ${networkReason(error)}`, error)
    }
  }

  async function probe(target: DependentTarget, signal?: AbortSignal): Promise<ProbeAnswer> {
    if ('exec' in target.probe) {
      const raw = await runExecProbe(target, target.probe.exec, {
        env: deps.execEnv ?? {},
        timeoutMs,
        signal,
      })
      return parseProbeAnswer(target, raw)
    }
    const init = { method: 'GET', headers: { accept: 'application/json' } }
    const { response, text } = await send(target, 'probe', target.probe.http, init, signal)
    if (!response.ok)
      throw notReady(target, `answered its probe with HTTP ${response.status}${excerpt(text)}`)
    if (text.length > MAX_ANSWER_CHARS) throw notReady(target, 'answered its probe with an oversized body')
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch (error) {
      throw notReady(target, `answered its probe with something that is not JSON${excerpt(text)}`, error)
    }
    return parseProbeAnswer(target, raw)
  }

  async function notify(target: DependentTarget, notice: Notice, signal?: AbortSignal): Promise<void> {
    // A dependent without a notify endpoint is only probed (it polls, e.g. the JWKS): nothing to send.
    if (target.notify === undefined) return
    const body = noticeBody(notice)
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    const secretEnv = target.notify.secretEnv
    if (secretEnv !== undefined) {
      const secret = deps.secretOf(secretEnv)
      if (secret === undefined || secret === '') {
        throw new KeyrotorError(
          'INVALID_CONFIG',
          `dependent "${target.name}": notify.secretEnv names ${secretEnv}, which is not set`,
          { details: { dependent: target.name, secretEnv } },
        )
      }
      Object.assign(headers, signedHeaders(secret, body, now()))
    }
    const { response, text } = await send(
      target,
      'notice',
      target.notify.http,
      { method: 'POST', headers, body },
      signal,
    )
    if (response.status < 200 || response.status > 299) {
      throw notReady(
        target,
        `refused notice ${notice.event} v${notice.version}: HTTP ${response.status}${excerpt(text)}`,
      )
    }
  }

  return { probe, notify }
}

/**
 * The exact body of a notice: these six members, in this order (CONTRACT.md), then the version's
 * `providerRef` (CONTRACT.md § Key backends), nothing else.
 */
export function noticeBody(notice: Notice): string {
  const { event, key, version, runId, correlationId, deadline, providerRef } = notice
  return JSON.stringify({ event, key, version, runId, correlationId, deadline, providerRef })
}

function networkReason(error: unknown): string {
  const cause =
    error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined
  if (typeof cause?.code === 'string') return cause.code
  if (typeof cause?.message === 'string') return cause.message
  return error instanceof Error ? error.message : String(error)
}

/** A dependent's own words help an operator; keep them short and on one line. */
function excerpt(text: string): string {
  const line = text.trim().replace(/\s+/g, ' ')
  if (line === '') return ''
  return `: ${line.length > 200 ? `${line.slice(0, 200)}…` : line}`
}
