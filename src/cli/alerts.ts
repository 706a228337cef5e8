import type { Command } from 'commander'
import { listCommand } from './list-pages.js'
import { leaf } from './session.js'
import type { Act } from './session.js'

export function registerAlerts(program: Command, act: Act): void {
  const alerts = program.command('alerts').description('alerts an operator must see')

  listCommand(alerts, act, {
    operation: 'listAlerts',
    description: 'list alerts, newest activity first',
    filters: [
      { name: 'state', help: 'only alerts in this state (e.g. open, acknowledged)' },
      { name: 'type', help: 'only alerts of this type (e.g. rotation_failed)' },
      { name: 'key', help: 'only alerts about this key' },
    ],
    empty: 'no alerts',
    columns: ['ID', 'STATE', 'SEVERITY', 'TYPE', 'KEY', 'RUN', 'COUNT', 'UPDATED', 'MESSAGE'],
    row: (a) => [a.id, a.state, a.severity, a.type, a.key, a.runId, a.count, a.updatedAt, a.message],
  })

  leaf(alerts, 'ack <id>', 'acknowledge an alert').action(
    act(async ({ api, out }, [id]) => {
      const { body } = await api().call('ackAlert', { params: { id: id ?? '' } })
      out.emit(body, () => `alert ${body.id} ${body.state}: ${body.type} ${body.message}`)
    }),
  )
}
