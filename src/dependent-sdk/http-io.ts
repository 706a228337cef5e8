import type { IncomingMessage, ServerResponse } from 'node:http'

/** Notices and probes are small: a larger body is refused unread (no memory spent on it). */
export const MAX_BODY_BYTES = 64 * 1024

/** The raw body as text, or undefined when it exceeds MAX_BODY_BYTES. */
export function readBody(request: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    request.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_BODY_BYTES) chunks.push(chunk)
    })
    request.on('end', () =>
      resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8')),
    )
    request.on('error', reject)
  })
}

/** A JSON answer that no cache keeps. */
export function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  response.end(JSON.stringify(body))
}
