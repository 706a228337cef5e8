import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseRunbook } from './runbook-file.js'

/** The seed playbook: runbooks are reviewed and updated regularly. Default: every 90 days. */
export const DEFAULT_REVIEW_PERIOD_MS = 90 * 86_400_000

export interface RunbookReview {
  file: string
  title: string
  scenario: string | null
  reviewed: string | null
  /** Whole days since `reviewed`; null without a date. */
  ageDays: number | null
  /** Older than the review period, or never dated. */
  overdue: boolean
}

/** The runbooks of a dir (README.md, the convention, is not one), oldest review first. */
export function reviewRunbooks(
  dir: string,
  options: { now: Date; reviewPeriodMs?: number | undefined },
): RunbookReview[] {
  const period = options.reviewPeriodMs ?? DEFAULT_REVIEW_PERIOD_MS
  return readdirSync(dir)
    .filter((f) => f.endsWith('.md') && f !== 'README.md')
    .sort()
    .map((file) => {
      const book = parseRunbook(readFileSync(join(dir, file), 'utf8'))
      const reviewedAt = book.reviewed === null ? null : Date.parse(`${book.reviewed}T00:00:00Z`)
      const ageMs = reviewedAt === null ? null : options.now.getTime() - reviewedAt
      return {
        file,
        title: book.title,
        scenario: book.scenario,
        reviewed: book.reviewed,
        ageDays: ageMs === null ? null : Math.floor(ageMs / 86_400_000),
        overdue: ageMs === null || ageMs > period,
      }
    })
    .sort((a, b) => (a.reviewed ?? '').localeCompare(b.reviewed ?? ''))
}

/** docs/runbooks of this installation (from src/ in a checkout, or dist/src/ once built), if present. */
export function packagedRunbooksDir(): string | undefined {
  for (const up of ['../../docs/runbooks', '../../../docs/runbooks']) {
    const dir = fileURLToPath(new URL(up, import.meta.url))
    if (existsSync(dir)) return dir
  }
  return undefined
}
