import { Option, type Command } from 'commander'
import { RUN_KINDS } from '../domain/runs.js'
import { renderReport } from './verify.js'
import { EXIT } from './exit-codes.js'
import { listPages, withPaging } from './list-pages.js'
import { renderRun, runTable } from './render-run.js'
import { durationOption, leaf, str } from './session.js'
import type { Act } from './session.js'
import { waitForRun } from './wait-for-run.js'

export function registerRuns(program: Command, act: Act): void {
  const runs = program.command('runs').description('list, inspect, follow and recover runs')

  withPaging(leaf(runs, 'list', 'list runs, newest first (the newest 100 unless --limit or --all)'))
    .option('--key <key>', 'only runs of this key')
    .option('--state <state>', 'only runs in this state')
    .addOption(new Option('--kind <kind>', 'only runs of this kind').choices(RUN_KINDS))
    .action(
      act(async (session) => {
        const { opts } = session
        const list = await listPages(session, 'listRuns', {
          key: str(opts, 'key'),
          state: str(opts, 'state'),
          kind: str(opts, 'kind'),
        })
        session.out.emit(list, () => runTable(list))
      }),
    )

  leaf(runs, 'show <run>', 'show one run').action(
    act(async ({ api, out }, [id]) => {
      const run = (await api().call('getRun', { params: { id: id ?? '' } })).body
      out.emit(run, () => renderRun(run))
    }),
  )

  leaf(runs, 'wait <run>', 'follow a run until it ends and exit by its outcome')
    .addOption(durationOption('--timeout <duration>', 'stop waiting after this long (exit 6)'))
    .action(
      act(async (session, [id]) => {
        const run = (await session.api().call('getRun', { params: { id: id ?? '' } })).body
        return waitForRun(session, run, session.opts.timeout as number | undefined)
      }),
    )

  // the failure playbook: verify consistency first, then retry forward (never a blind retry)
  const actions = [
    ['verify', 'check the failed run\u2019s key for consistency (required before retry)'],
    ['retry', 'resume a failed run forward from its failed phase'],
    ['cancel', 'cancel a run that has not reached its point of no return'],
  ] as const
  for (const [action, description] of actions) {
    leaf(runs, `${action} <run>`, description).action(
      act(async ({ api, out }, [id]) => {
        const params = { params: { id: id ?? '' } }
        if (action !== 'verify') {
          const { body: run } = await api().call(action === 'retry' ? 'retryRun' : 'cancelRun', params)
          out.emit(run, () => renderRun(run))
          return EXIT.ok
        }
        // a verify answers the run with the check's result: exit 1 when it found mismatches
        const { body: run } = await api().call('verifyRun', params)
        const report = { key: run.key, passed: run.passed, checks: run.checks }
        out.emit(run, () => [...renderRun(run), ...renderReport(report)])
        return report.passed ? EXIT.ok : EXIT.runFailed
      }),
    )
  }
}
