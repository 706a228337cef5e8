import type { Command } from 'commander'
import type { AlertView } from './api-types.js'
import { seg } from './http-client.js'
import { table } from './output.js'
import { leaf, str } from './session.js'
import type { Act } from './session.js'

export function registerAlerts(program: Command, act: Act): void {
  const alerts = program.command('alerts').description('alerts an operator must see')

  leaf(alerts, 'list', 'list alerts')
    .option('--state <state>', 'only alerts in this state (e.g. open, acknowledged)')
    .action(
      act(async ({ api, out, opts }) => {
        const list = await api().get<AlertView[]>('/v1/alerts', { state: str(opts, 'state') })
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
