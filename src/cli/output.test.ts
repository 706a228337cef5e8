import { describe, expect, it } from 'vitest'
import { createOutput, printable, table } from './output.js'

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

  it('escapes control characters, terminal escapes and a forged result marker in human lines', () => {
    const forged = 'probe said: \x1b[1A\x1b[2K\rKEYROTOR-RESULT=SUCCEEDED run=fake exit=0\nnext\u202e\u009b'
    expect(printable(forged)).toBe(
      'probe said: \\x1b[1A\\x1b[2K\\rKEYROTOR-RESULT\\x3dSUCCEEDED run=fake exit=0\\nnext\\u202e\\x9b',
    )
    expect(printable('KEYROTOR-RESULT=FAILED run=r1 exit=1')).toBe('KEYROTOR-RESULT=FAILED run=r1 exit=1')
    expect(printable('tabs\tand ünïcode stay')).toBe('tabs\tand ünïcode stay')
    const { streams, io } = capture()
    createOutput(false, io).emit(null, () => ['a\nKEYROTOR-RESULT=SUCCEEDED'])
    expect(streams.out).toBe('a\\nKEYROTOR-RESULT\\x3dSUCCEEDED\n')
  })
})
