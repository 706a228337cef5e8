import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createLogger, withContext } from './logger.js'

function capture() {
  const lines: string[] = []
  const logger = createLogger({
    level: 'info',
    destination: { write: (line: string) => void lines.push(line) },
  })
  const parsed = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  return { logger, lines, parsed }
}

describe('logger', () => {
  it('prints token, authorization and key material fields redacted', () => {
    const { logger, lines, parsed } = capture()
    logger.info(
      {
        token: 'kr_supersecret',
        authorization: 'Bearer kr_supersecret',
        req: { headers: { authorization: 'Bearer kr_supersecret' } },
        dependent: { secret: 'hook-secret', password: 'pw' },
        jwk: { kty: 'oct', k: 'c2VjcmV0' },
      },
      'something happened',
    )
    expect(lines.join('')).not.toMatch(/supersecret|hook-secret|c2VjcmV0|"pw"/)
    expect(parsed()[0]).toMatchObject({
      token: '[redacted]',
      authorization: '[redacted]',
      req: { headers: { authorization: '[redacted]' } },
      dependent: { secret: '[redacted]', password: '[redacted]' },
      jwk: { kty: 'oct', k: '[redacted]' },
    })
  })

  it('writes JSON lines with an ISO UTC time, a level label and the message', () => {
    const { logger, parsed } = capture()
    logger.warn('careful')
    const [line] = parsed()
    expect(line).toMatchObject({ level: 'warn', msg: 'careful' })
    expect(line?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  })

  it('carries run context on child loggers and leaves out what is not known', () => {
    const { logger, parsed } = capture()
    withContext(logger, {
      correlationId: 'c-1',
      runId: 'run-1',
      key: 'payments-dek',
      phase: 'promote',
      actor: undefined,
    }).info('promoted')
    const [line] = parsed()
    expect(line).toMatchObject({
      correlationId: 'c-1',
      runId: 'run-1',
      key: 'payments-dek',
      phase: 'promote',
    })
    expect(line).not.toHaveProperty('actor')
  })

  it('appends to a log file, creating its directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyrotor-log-'))
    try {
      const file = join(dir, 'nested', 'keyrotor.log')
      const logger = createLogger({ level: 'info', destination: file })
      logger.info({ token: 'kr_abc' }, 'to a file')
      logger.flush()
      const line = JSON.parse(readFileSync(file, 'utf8').trim()) as Record<string, unknown>
      expect(line).toMatchObject({ msg: 'to a file', token: '[redacted]' })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
