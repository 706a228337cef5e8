import type { Command } from 'commander'
import { table } from './output.js'
import { leaf, str } from './session.js'
import type { Act } from './session.js'

export function registerAlerts(program: Command, act: Act): void {
  const alerts = program.command('alerts').description('alerts an operator must see')

  leaf(alerts, 'list', 'list alerts')
    .option('--state <state>', 'only alerts in this state (e.g. open, acknowledged)')
    .action(
      act(async ({ api, out, opts }) => {
        const list = (await api().call('listAlerts', { query: { state: str(opts, 'state') } })).body
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
