import type { Command } from 'commander'
import type { ApprovalView } from './api-types.js'
import { cell } from './output.js'
import { listCommand } from './list-pages.js'
import { leaf } from './session.js'
import type { Act } from './session.js'

export function renderApproval(a: ApprovalView): string[] {
  return [
    `approval ${a.id} ${a.state}: ${a.action} ${a.subject}, requested by ${a.requestedBy}, expires ${cell(a.expiresAt)}`,
    `  needs roles: ${cell(a.requiredRoles)}; given: ${
      a.approvals.length === 0 ? '-' : a.approvals.map((g) => `${g.by} (${g.role}) at ${g.at}`).join(', ')
    }`,
  ]
}

export function registerApprovals(program: Command, act: Act): void {
  const approvals = program.command('approvals').description('four-eyes approvals (never by the requester)')

  listCommand(approvals, act, {
    operation: 'listApprovals',
    description: 'list approvals, newest first',
    filters: [
      { name: 'state', help: 'only approvals in this state (e.g. pending)' },
      { name: 'action', help: 'only approvals of this action (e.g. forward-correct)' },
      { name: 'subject', help: 'only approvals about this subject (a key id, a proposal id)' },
    ],
    empty: 'no approvals',
    columns: ['ID', 'STATE', 'ACTION', 'SUBJECT', 'REQUESTED BY', 'NEEDS', 'GIVEN', 'EXPIRES'],
    row: (a) => [
      a.id,
      a.state,
      a.action,
      a.subject,
      a.requestedBy,
      a.requiredRoles,
      a.approvals.map((g) => g.by),
      a.expiresAt,
    ],
  })

  leaf(approvals, 'approve <id>', 'approve (refused for the requester: exit 7)').action(
    act(async ({ api, out }, [id]) => {
      const { body } = await api().call('approve', { params: { id: id ?? '' } })
      out.emit(body, () => renderApproval(body))
    }),
  )

  leaf(approvals, 'reject <id>', 'reject')
    .requiredOption('--reason <text>', 'why')
    .action(
      act(async ({ api, out, opts }, [id]) => {
        const { body } = await api().call('reject', {
          params: { id: id ?? '' },
          body: { reason: String(opts.reason) },
        })
        out.emit(body, () => renderApproval(body))
      }),
    )
}
