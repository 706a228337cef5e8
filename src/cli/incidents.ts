import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { KeyrotorError } from '../errors.js'
import type { IncidentView } from './api-types.js'
import { cell, table } from './output.js'
import { listCommand } from './list-pages.js'
import { leaf } from './session.js'
import type { Act } from './session.js'

function renderIncident(i: IncidentView): string[] {
  const lines = [
    `incident ${i.id} ${i.state}: ${i.title}`,
    `  key ${cell(i.key)}, run ${cell(i.runId)}, correlation ${cell(i.correlationId)}`,
    `  opened ${i.openedAt}, closed ${cell(i.closedAt)}`,
  ]
  if (i.rca) lines.push('', 'RCA:', i.rca)
  return lines
}

export function registerIncidents(program: Command, act: Act): void {
  const incidents = program
    .command('incidents')
    .description('incidents opened by security or availability failures')

  listCommand(incidents, act, {
    operation: 'listIncidents',
    description: 'list incidents, newest first',
    filters: [
      { name: 'state', help: 'only incidents in this state (open, closed)' },
      { name: 'key', help: 'only incidents about this key' },
    ],
    empty: 'no incidents',
    columns: ['ID', 'STATE', 'KEY', 'RUN', 'OPENED', 'TITLE'],
    row: (i) => [i.id, i.state, i.key, i.runId, i.openedAt, i.title],
  })

  leaf(incidents, 'show <id>', 'show one incident').action(
    act(async ({ api, out }, [id]) => {
      const incident = (await api().call('getIncident', { params: { id: id ?? '' } })).body
      out.emit(incident, () => renderIncident(incident))
    }),
  )

  leaf(incidents, 'tickets <id>', 'the tickets opened for an incident (GitHub, Jira, ServiceNow, …)').action(
    act(async ({ api, out }, [id]) => {
      const tickets = (await api().call('listIncidentTickets', { params: { id: id ?? '' } })).body
      out.emit(tickets, () =>
        tickets.length === 0
          ? ['no tickets']
          : table(
              ['TYPE', 'TICKET', 'URL', 'OPENED'],
              tickets.map((t) => [t.type, t.externalId, t.url, t.createdAt]),
            ),
      )
    }),
  )

  leaf(incidents, 'close <id>', 'close an incident with its root cause analysis')
    .requiredOption('--rca <file>', 'the RCA document (Markdown or text)')
    .action(
      act(async ({ api, out, opts }, [id]) => {
        const file = String(opts.rca)
        const rca = await readFile(file, 'utf8').catch((error: unknown) => {
          throw new KeyrotorError('BAD_REQUEST', `cannot read --rca ${file}: ${(error as Error).message}`)
        })
        if (rca.trim() === '') throw new KeyrotorError('BAD_REQUEST', `--rca ${file} is empty`)
        const { body } = await api().call('closeIncident', { params: { id: id ?? '' }, body: { rca } })
        out.emit(body, () => renderIncident(body))
      }),
    )
}
