import type { Command } from 'commander'
import { table } from './output.js'
import { listPages, withPaging } from './list-pages.js'
import { leaf, str } from './session.js'
import type { Act } from './session.js'

export function registerAlerts(program: Command, act: Act): void {
  const alerts = program.command('alerts').description('alerts an operator must see')

  withPaging(leaf(alerts, 'list', 'list alerts, newest activity first'))
    .option('--state <state>', 'only alerts in this state (e.g. open, acknowledged)')
    .option('--type <type>', 'only alerts of this type (e.g. rotation_failed)')
    .option('--key <key>', 'only alerts about this key')
    .action(
      act(async (session) => {
        const { out, opts } = session
        const filters = { state: str(opts, 'state'), type: str(opts, 'type'), key: str(opts, 'key') }
        const list = await listPages(session, 'listAlerts', filters)
        out.emit(list, () =>
          list.length === 0
            ? ['no alerts']
            : table(
                ['ID', 'STATE', 'SEVERITY', 'TYPE', 'KEY', 'RUN', 'COUNT', 'UPDATED', 'MESSAGE'],
                list.map((a) => [
                  a.id,
                  a.state,
                  a.severity,
                  a.type,
                  a.key,
                  a.runId,
                  a.count,
                  a.updatedAt,
                  a.message,
                ]),
              ),
        )
      }),
    )

  leaf(alerts, 'ack <id>', 'acknowledge an alert').action(
    act(async ({ api, out }, [id]) => {
      const { body } = await api().call('ackAlert', { params: { id: id ?? '' } })
      out.emit(body, () => `alert ${body.id} ${body.state}: ${body.type} ${body.message}`)
    }),
  )
}
