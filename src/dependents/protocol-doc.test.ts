import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseNotice } from '../dependent-sdk/notice.js'
import { checkSignature, signPayload } from './signature.js'

// docs/dependent-protocol.md computes a notice signature step by step for people implementing a
// dependent in another language; this keeps its numbers those of our implementation.
const doc = readFileSync('docs/dependent-protocol.md', 'utf8')
const example = doc.slice(doc.indexOf('### Worked example'))
const blocks = [...example.matchAll(/```(?:text|json)\n([\s\S]*?)\n```/g)].map((m) => m[1] as string)
const [secret, timestamp, body, digest] = blocks as [string, string, string, string]

describe('the worked example of docs/dependent-protocol.md', () => {
  it('is the signature keyrotor computes and accepts', () => {
    expect(blocks).toHaveLength(4)
    expect(Buffer.byteLength(body)).toBe(Number(/Body \((\d+) bytes/.exec(example)?.[1]))
    expect(signPayload(secret, timestamp, body)).toBe(`v1=${digest}`)
    expect(doc).toContain(`X-Keyrotor-Signature: v1=${digest}`)
    const prefix = /first 24 bytes in hex are\s+`([0-9a-f]+)`/.exec(example)?.[1]
    expect(prefix).toBe(Buffer.from(`${timestamp}.${body}`).subarray(0, 24).toString('hex'))
    const at = Number(timestamp) * 1000
    expect(checkSignature(secret, timestamp, body, `v1=${digest}`, { now: at })).toEqual({ ok: true })
    expect(checkSignature(secret, timestamp, body, `v1=${digest}`, { now: at + 301_000 })).toEqual({
      ok: false,
      reason: 'stale',
    })
    expect(parseNotice(body)).toMatchObject({ event: 'key.version.staged', version: 4 })
  })
})
