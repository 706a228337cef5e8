import type { Command } from 'commander'
import type { AlertView } from './api-types.js'
import { seg } from './http-client.js'
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
        const list = await listPages<AlertView>(session, '/v1/alerts', filters)
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
      const { body } = await api().post<AlertView>(`/v1/alerts/${seg(id ?? '')}/ack`)
      out.emit(body, () => `alert ${body.id} ${body.state}: ${body.type} ${body.message}`)
    }),
  )
}
