import { describe, expect, it } from 'vitest'
import { createOutput, table } from './output.js'

function capture() {
  const streams = { out: '', err: '' }
  return {
    streams,
    io: { stdout: (t: string) => void (streams.out += t), stderr: (t: string) => void (streams.err += t) },
  }
}

describe('output', () => {
  it('prints exactly one parseable JSON document under --json and sends progress to stderr', () => {
    const { streams, io } = capture()
    const out = createOutput(true, io)
    out.progress('phase.started')
    out.emit({ id: 'r1', state: 'succeeded' }, () => 'human')
    expect(JSON.parse(streams.out)).toEqual({ id: 'r1', state: 'succeeded' })
    expect(streams.err).toBe('phase.started\n')
  })

  it('refuses to print a second JSON document', () => {
    const out = createOutput(true, capture().io)
    out.emit([], () => [])
    expect(() => out.emit([], () => [])).toThrow(/two JSON documents/)
  })

  it('prints the human rendering on stdout without --json', () => {
    const { streams, io } = capture()
    createOutput(false, io).emit({ a: 1 }, () => ['one', 'two'])
    expect(streams.out).toBe('one\ntwo\n')
  })

  it('aligns table columns and shows missing cells as a dash', () => {
    expect(
      table(
        ['ID', 'STATE'],
        [
          ['run-1', null],
          ['r2', 'ok'],
        ],
      ),
    ).toEqual(['ID     STATE', 'run-1  -', 'r2     ok'])
  })
})
