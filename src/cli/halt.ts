import type { Command } from 'commander'
import { KeyrotorError } from '../errors.js'
import type { HaltView } from './api-types.js'
import { renderApproval } from './approvals.js'
import { leaf, str } from './session.js'
import type { Act } from './session.js'

export function renderHalt(halt: HaltView): string {
  if (!halt.engaged) return 'halt: released (runs may proceed)'
  return `halt: ENGAGED since ${halt.since ?? '-'} by ${halt.by ?? '-'}: ${halt.reason ?? '-'}`
}

export function registerHalt(program: Command, act: Act): void {
  // `halt --reason` engages; `halt status` and `halt release` are subcommands of the same word
  const halt = leaf(
    program,
    'halt',
    'engage the global stop switch: no run starts a phase, no key state changes',
  )
    .option('--reason <text>', 'why (required to engage)')
    .action(
      act(async ({ api, out, opts }, _args) => {
        const reason = str(opts, 'reason')
        if (!reason) {
          throw new KeyrotorError(
            'BAD_REQUEST',
            '`halt` engages the stop switch and needs --reason (see `halt status`)',
          )
        }
        const { body } = await api().call('engageHalt', { body: { reason } })
        out.emit(body, () => renderHalt(body))
      }),
    )

  leaf(halt, 'status', 'show whether the halt is engaged').action(
    act(async ({ api, out }) => {
      const body = (await api().call('getHalt')).body
      out.emit(body, () => renderHalt(body))
    }),
  )

  leaf(halt, 'release', 'ask to release the halt (needs verify --all and two approvals)').action(
    act(async ({ api, out }) => {
      // the server answers 202 with the approval it opened (the release needs it)
      const { body } = await api().call('requestHaltRelease')
      out.emit(body, () => [`release requested; approval needed:`, ...renderApproval(body)])
    }),
  )
}
