/** What a dependent may answer: a probe answer or a notice's reply is a small JSON document. */
export const MAX_ANSWER_BYTES = 64 * 1024

/**
 * Reads a response body as text, at most `maxBytes` of it AFTER decoding (fetch inflates a
 * gzip or br answer as it streams): a 1 MB gzip answer that inflates to gigabytes is cut at the
 * limit instead of filling memory, and an endless body is cancelled there. A body that trickles
 * (slowloris) is stopped by the request's signal, which the stream honours.
 */
export async function readCapped(
  response: Response,
  maxBytes = MAX_ANSWER_BYTES,
): Promise<{ text: string; truncated: boolean }> {
  if (response.body === null) return { text: '', truncated: false }
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      const room = maxBytes - size
      if (value.byteLength > room) {
        chunks.push(value.subarray(0, room))
        size = maxBytes
        await reader.cancel().catch(() => undefined)
        return { text: decode(chunks), truncated: true }
      }
      chunks.push(value)
      size += value.byteLength
    }
  } finally {
    reader.releaseLock()
  }
  return { text: decode(chunks), truncated: false }
}

function decode(chunks: Uint8Array[]): string {
  return new TextDecoder().decode(Buffer.concat(chunks))
}
