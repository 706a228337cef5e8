import type { Command } from 'commander'
import { table } from './output.js'
import { leaf } from './session.js'
import type { Act } from './session.js'
import type { ScheduleView } from '../client/views.js'

export function registerSchedule(program: Command, act: Act): void {
  leaf(
    program,
    'schedule',
    'the built-in schedule: next due time per key and why a key is not due now',
  ).action(
    act(async ({ api, out }) => {
      const view = (await api().call('getSchedule')).body
      out.emit(view, () => renderSchedule(view))
    }),
  )
}

function renderSchedule(view: ScheduleView): string[] {
  const head = [
    `schedule at ${view.at}: ${view.running} of at most ${view.concurrency} scheduled runs in progress` +
      (view.halted ? '; the global halt is engaged, nothing starts' : ''),
  ]
  if (view.keys.length === 0) return [...head, 'no keys']
  return [
    ...head,
    ...table(
      ['KEY', 'PERIOD', 'WINDOW', 'ACTIVE', 'DUE', 'NEXT ATTEMPT', 'STATUS', 'WHY'],
      view.keys.map((k) => [
        k.key,
        k.rotationPeriod ?? '-',
        k.window ?? '-',
        k.activeVersion === null ? '-' : `v${k.activeVersion}`,
        k.dueAt ?? '-',
        k.nextAttemptAt ?? '-',
        k.status,
        k.reason,
      ]),
    ),
  ]
}
