import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { rootCertificates } from 'node:tls'

/** One HTTP exchange as the client needs it: the status, a header reader and the whole body. */
export interface TransportResponse {
  status: number
  statusText: string
  header(name: string): string | undefined
  text: string
}

export interface TransportRequest {
  method: string
  headers: Record<string, string>
  body: string | undefined
  signal: AbortSignal
}

export type Transport = (url: string, init: TransportRequest) => Promise<TransportResponse>

/**
 * Requests over node:http and node:https, one connection each (no keep-alive). Not the global
 * fetch: loading undici costs a CLI command ~80 ms, and the kept-alive socket it leaves open held
 * the process about a second after its answer (docs/benchmarks.md, "CLI start"). `ca` (PEM) is
 * trusted besides Node's built-in roots, for a keyrotor served with `--tls-cert`.
 */
export function nodeTransport(options: { ca?: Buffer | string | undefined } = {}): Transport {
  const ca = options.ca === undefined ? undefined : [...rootCertificates, options.ca.toString()]
  return (url, init) =>
    new Promise<TransportResponse>((resolve, reject) => {
      const target = new URL(url)
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest
      const headers =
        init.body === undefined
          ? init.headers
          : { ...init.headers, 'content-length': String(Buffer.byteLength(init.body)) }
      const request = send(
        target,
        {
          method: init.method,
          headers,
          signal: init.signal,
          agent: false,
          ...(ca === undefined ? {} : { ca }),
        },
        (response) => {
          readAll(response).then(
            (text) =>
              resolve({
                status: response.statusCode ?? 0,
                statusText: response.statusMessage ?? '',
                header: (name) => headerOf(response, name),
                text,
              }),
            reject,
          )
        },
      )
      request.on('error', reject)
      request.end(init.body)
    })
}

/** An injected fetch (tests, embedders) as a transport. */
export function fetchTransport(doFetch: typeof fetch): Transport {
  return async (url, init) => {
    const response = await doFetch(url, init)
    return {
      status: response.status,
      statusText: response.statusText,
      header: (name) => response.headers.get(name) ?? undefined,
      text: await response.text(),
    }
  }
}

async function readAll(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of response) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function headerOf(response: IncomingMessage, name: string): string | undefined {
  const value = response.headers[name.toLowerCase()]
  return Array.isArray(value) ? value.join(', ') : value
}
