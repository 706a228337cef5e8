import { createServer } from 'node:http'
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { context, propagation } from '@opentelemetry/api'
import { readBody, send } from './http-io.js'
import { DependentError } from './types.js'
import type { NoticeHeaders, NoticeResult, ProbeAnswer } from './types.js'

export const PROBE_PATH = '/keyrotor/probe'
export const NOTIFY_PATH = '/keyrotor/notify'

/** A notice is a few hundred bytes; refuse anything far larger before reading it all. */

interface Endpoints {
  probeAnswer(): ProbeAnswer
  handleNotice(rawBody: string, headers: NoticeHeaders): Promise<NoticeResult>
}

/** Where a dependent listens, and its two URLs to put in keyrotor.yaml. */
export interface Listening {
  url: string
  port: number
  probeUrl: string
  notifyUrl: string
  close(): Promise<void>
}

/** The node:http listener of a dependent's two endpoints; anything else answers 404. */
export function createNoticeHandler(endpoints: () => Endpoints): RequestListener {
  return (request, response) => {
    const path = (request.url ?? '/').split('?')[0]
    if (path === PROBE_PATH && request.method === 'GET') {
      return send(response, 200, endpoints().probeAnswer())
    }
    if (path === NOTIFY_PATH && request.method === 'POST') {
      // continue keyrotor's trace (traceparent) when the service runs OpenTelemetry; a no-op otherwise
      const parent = propagation.extract(context.active(), request.headers)
      void context.with(parent, () => notice(endpoints(), request, response))
      return
    }
    if (path === PROBE_PATH || path === NOTIFY_PATH)
      return send(response, 405, { error: 'method not allowed' })
    send(response, 404, { error: 'not found' })
  }
}

async function notice(
  endpoints: Endpoints,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  let body: string | undefined
  try {
    body = await readBody(request)
  } catch {
    return send(response, 400, { error: 'the notice could not be read' })
  }
  if (body === undefined) return send(response, 413, { error: 'the notice is too large' })
  const result = await endpoints
    .handleNotice(body, request.headers)
    .catch(() => ({ status: 500, error: undefined }))
  const ok = result.status >= 200 && result.status < 300
  send(response, result.status, ok ? { ok: true } : { error: result.error ?? 'refused' })
}

/** Serves `handler` and resolves once it listens. */
export function listenOn(handler: RequestListener, port: number, host: string): Promise<Listening> {
  const server = createServer(handler)
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, host, port)))
    server.listen(port, host, () => {
      const address = server.address() as AddressInfo
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`
      resolve({
        url,
        port: address.port,
        probeUrl: url + PROBE_PATH,
        notifyUrl: url + NOTIFY_PATH,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((error) => (error === undefined ? done() : fail(error)))
            server.closeAllConnections()
          }),
      })
    })
  })
}

/** A clear DependentError `LISTEN_FAILED` for the usual causes, instead of a bare stack trace. */
function listenError(error: NodeJS.ErrnoException, host: string, port: number): DependentError {
  const where = `${host}:${port}`
  const why =
    error.code === 'EADDRINUSE'
      ? `port ${port} is already in use on ${host} (another process listens there: stop it or choose another port)`
      : error.code === 'EACCES'
        ? `not allowed to listen on ${where} (ports below 1024 need privileges)`
        : error.code === 'EADDRNOTAVAIL'
          ? `${host} is not an address of this machine`
          : `cannot listen on ${where}: ${error.message}`
  return new DependentError('LISTEN_FAILED', why, { cause: error })
}
