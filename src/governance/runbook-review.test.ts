import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createMetrics } from '../observability/metrics.js'
import { registerRunbooksOverdue } from '../observability/runbook-gauge.js'
import { reviewRunbooks } from './runbook-review.js'

describe('runbook review dates', () => {
  const dirs: string[] = []
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  })

  function runbooks(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'keyrotor-runbooks-'))
    dirs.push(dir)
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
    return dir
  }

  const book = (reviewed: string) => `---\nscenario: emergency\nreviewed: ${reviewed}\n---\n\n# Runbook\n`
  const now = new Date('2026-12-03T12:00:00Z')

  it('flags runbooks reviewed longer ago than the period, and undated ones, oldest first', () => {
    const dir = runbooks({
      'fresh.md': book('2026-11-30'),
      'stale.md': book('2026-08-01'),
      'undated.md': '# Runbook without front matter\n',
      'README.md': '# the convention, not a runbook\n',
    })
    const list = reviewRunbooks(dir, { now })
    expect(list.map((r) => [r.file, r.reviewed, r.ageDays, r.overdue])).toEqual([
      ['undated.md', null, null, true],
      ['stale.md', '2026-08-01', 124, true],
      ['fresh.md', '2026-11-30', 3, false],
    ])
    const strict = reviewRunbooks(dir, { now, reviewPeriodMs: 2 * 86_400_000 })
    expect(strict.find((r) => r.file === 'fresh.md')?.overdue).toBe(true)
  })

  it('exposes the count as keyrotor_runbooks_overdue at each scrape', async () => {
    const dir = runbooks({ 'a.md': book('2026-11-30') })
    const metrics = createMetrics({ defaultMetrics: false })
    registerRunbooksOverdue(
      metrics.registry,
      () => reviewRunbooks(dir, { now }).filter((r) => r.overdue).length,
      (error) => {
        throw error
      },
    )
    expect(await metrics.render()).toMatch(/^keyrotor_runbooks_overdue 0$/m)
    writeFileSync(join(dir, 'b.md'), book('2025-01-01'))
    expect(await metrics.render()).toMatch(/^keyrotor_runbooks_overdue 1$/m)
  })
})
