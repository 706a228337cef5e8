import { describe, expect, it } from 'vitest'
import { GENESIS_HASH, hashRecord } from './chain.js'
import { verifyExport } from './verify-export.js'

const KEY = Buffer.alloc(32, 7)

/** A chain of `n` records as `audit export` prints them. */
function chain(n: number): string[] {
  const lines: string[] = []
  let prev = GENESIS_HASH
  for (let seq = 1; seq <= n; seq += 1) {
    const row = {
      seq,
      at: `2026-12-03T10:00:0${seq}.000Z`,
      actor: 'alice',
      action: 'tokens.create',
      target: `tok_${seq}`,
      correlationId: null,
      reason: null,
      details: { role: 'viewer', n: seq },
    }
    const hash = hashRecord(KEY, {
      ...row,
      correlation_id: null,
      details: JSON.stringify(row.details),
      prev_hash: prev,
    })
    lines.push(JSON.stringify({ ...row, prevHash: prev, hash }))
    prev = hash
  }
  return lines
}

describe('verifyExport', () => {
  it('passes an intact copy and skips exact repeats from at-least-once delivery', () => {
    const [a, b, c] = chain(3)
    expect(verifyExport([a, b, b, c, ''].join('\n'), KEY)).toMatchObject({
      valid: true,
      checked: 3,
      duplicates: 1,
      hashesChecked: true,
    })
  })

  it('names the line of a missing, reordered or edited record', () => {
    const [a, b, c] = chain(3) as [string, string, string]
    expect(verifyExport([a, c].join('\n'), KEY).brokenAt).toMatchObject({
      line: 2,
      reason: expect.stringContaining('missing'),
    })
    expect(verifyExport([a, c, b].join('\n'), KEY).brokenAt?.line).toBe(2)
    const edited = b.replace('"tok_2"', '"tok_9"')
    expect(verifyExport([a, edited, c].join('\n'), KEY).brokenAt).toMatchObject({ line: 2, seq: 2 })
    // a repeat that differs from the first copy is not a repeat
    expect(verifyExport([a, b, edited, c].join('\n'), KEY).brokenAt?.line).toBe(3)
  })

  it('without the key checks the links only, and says so', () => {
    const [a, b, c] = chain(3) as [string, string, string]
    const edited = b.replace('"tok_2"', '"tok_9"')
    expect(verifyExport([a, edited, c].join('\n'), undefined)).toMatchObject({
      valid: true,
      hashesChecked: false,
    })
    expect(verifyExport(`${a}\nnot json`, undefined).brokenAt).toMatchObject({
      line: 2,
      reason: 'not a JSON line',
    })
  })

  it('checks a copy that starts mid-chain (audit export --since) from its first record', () => {
    expect(verifyExport(chain(5).slice(2).join('\n'), KEY)).toMatchObject({
      valid: true,
      firstSeq: 3,
      lastSeq: 5,
    })
  })
})
