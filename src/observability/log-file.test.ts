import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createLogger } from './logger.js'
import { logFileHealth } from './log-file.js'
import { createMetrics } from './metrics.js'
import { createReadiness } from './readiness.js'

describe('the --log-file destination', () => {
  it('creates the file 0600 in a directory it creates', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyrotor-logfile-'))
    try {
      const file = join(dir, 'logs', 'keyrotor.log')
      const logger = createLogger({ level: 'info', destination: file })
      logger.info('hello')
      expect(statSync(file).mode & 0o777).toBe(0o600)
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ msg: 'hello' })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  // /dev/full answers every write with ENOSPC: a volume that is full for good
  it.skipIf(process.platform !== 'linux')(
    'drops lines on a full disk without throwing, counts them and holds /readyz until writes resume',
    async () => {
      const metrics = createMetrics({ defaultMetrics: false })
      const readiness = createReadiness()
      const health = logFileHealth(metrics, readiness)
      const logger = createLogger({ level: 'info', destination: '/dev/full', logFileEvents: health })
      for (let i = 0; i < 5; i++) expect(() => logger.info({ i }, 'a line the disk refuses')).not.toThrow()
      expect(await metrics.render()).toMatch(/keyrotor_log_lines_dropped_total\{reason="ENOSPC"\} 5/)
      expect(readiness.reasons()).toEqual(['log: the log file cannot be written (ENOSPC); 5 lines dropped'])
      health.recovered(5)
      expect(readiness.reasons()).toEqual([])
    },
  )
})
