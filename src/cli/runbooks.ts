import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { KeyrotorError } from '../errors.js'
import { table } from './output.js'
import { durationOption, str } from './session.js'
import type { Act } from './session.js'

/** `keyrotor runbooks`: every runbook with its review date; the overdue ones flagged. */
export function registerRunbooks(program: Command, act: Act): void {
  program
    .command('runbooks')
    .description('list the runbooks with their review dates; flag those older than the review period')
    .option('--json', 'print exactly one JSON document on stdout')
    .option('--dir <dir>', 'the runbooks (default: ./docs/runbooks, else the installed ones)')
    .addOption(durationOption('--review-period <duration>', 'overdue after this long (default 90d)'))
    .action(
      act(async ({ out, opts }) => {
        // loaded here, not at start: it brings the YAML parser, which no other command needs
        const { DEFAULT_REVIEW_PERIOD_MS, packagedRunbooksDir, reviewRunbooks } =
          await import('../governance/runbook-review.js')
        const dir = runbooksDir(str(opts, 'dir'), packagedRunbooksDir)
        const period = typeof opts.reviewPeriod === 'number' ? opts.reviewPeriod : DEFAULT_REVIEW_PERIOD_MS
        const list = reviewRunbooks(dir, { now: new Date(), reviewPeriodMs: period })
        const overdue = list.filter((r) => r.overdue).length
        out.emit(list, () => [
          ...table(
            ['RUNBOOK', 'SCENARIO', 'REVIEWED', 'AGE', 'STATUS', 'TITLE'],
            list.map((r) => [
              r.file,
              r.scenario,
              r.reviewed ?? 'never',
              r.ageDays === null ? '-' : `${r.ageDays}d`,
              r.overdue ? 'OVERDUE' : 'ok',
              r.title,
            ]),
          ),
          `${list.length} runbooks in ${dir}; ${overdue} overdue (review period ${Math.round(period / 86_400_000)}d)`,
        ])
      }),
    )
}

function runbooksDir(given: string | undefined, packagedRunbooksDir: () => string | undefined): string {
  if (given !== undefined) {
    if (!existsSync(given)) throw new KeyrotorError('BAD_REQUEST', `--dir ${given}: no such directory`)
    return resolve(given)
  }
  if (existsSync('docs/runbooks')) return resolve('docs/runbooks')
  const packaged = packagedRunbooksDir()
  if (packaged === undefined) throw new KeyrotorError('BAD_REQUEST', 'no docs/runbooks here: give --dir')
  return packaged
}
