import { useState } from 'preact/hooks'
import type { Alert } from '../../src/observability/alerts.js'
import { api } from '../api.js'
import { Action } from '../action.js'
import { age } from '../format.js'
import { href } from '../router.js'
import { useSession } from '../session.js'
import { useResource } from '../use-resource.js'
import { ErrorLine, RunState } from './bits.js'

const STATES = ['open', 'acknowledged', 'resolved', 'all'] as const

/** Alerts by state; an operator or above acknowledges the open ones. */
export function AlertsView() {
  const session = useSession()
  const [state, setState] = useState<(typeof STATES)[number]>('open')
  const alerts = useResource<Alert[]>(state === 'all' ? '/v1/alerts' : `/v1/alerts?state=${state}`, 5000)
  return (
    <section>
      <h1>Alerts</h1>
      <div class="toolbar" role="group" aria-label="Alert state">
        {STATES.map((s) => (
          <button key={s} type="button" aria-pressed={s === state} onClick={() => setState(s)}>
            {s}
          </button>
        ))}
      </div>
      <ErrorLine error={alerts.error} />
      <table data-testid="alerts">
        <thead>
          <tr>
            <th scope="col">Alert</th>
            <th scope="col">Severity</th>
            <th scope="col">State</th>
            <th scope="col">Key / run</th>
            <th scope="col">Message</th>
            <th scope="col">Last seen</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          {(alerts.data ?? []).map((alert) => (
            <tr key={alert.id}>
              <td>
                {alert.type} {alert.count > 1 && <span class="sub">×{alert.count}</span>}
              </td>
              <td>{alert.severity}</td>
              <td>
                <RunState state={alert.state} />
              </td>
              <td>
                {alert.key !== null && <a href={href('keys', alert.key)}>{alert.key}</a>}{' '}
                {alert.runId !== null && <a href={href('runs', alert.runId)}>{alert.runId}</a>}
              </td>
              <td>{alert.message}</td>
              <td>{age(alert.updatedAt)} ago</td>
              <td>
                {alert.state === 'open' && session.may('alerts.ack') && (
                  <Action
                    label="Acknowledge"
                    run={() => api('POST', `/v1/alerts/${encodeURIComponent(alert.id)}/ack`)}
                    onDone={alerts.reload}
                  />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {alerts.data?.length === 0 && <p>No {state === 'all' ? '' : state} alerts.</p>}
    </section>
  )
}
