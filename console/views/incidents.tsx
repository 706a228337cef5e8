import type { Incident } from '../../src/observability/incidents.js'
import { api } from '../api.js'
import { Action } from '../action.js'
import { when } from '../format.js'
import { href } from '../router.js'
import { useSession } from '../session.js'
import { useResource } from '../use-resource.js'
import { ErrorLine, RunState } from './bits.js'

/** Incidents, newest first; security or admin closes one with its root-cause analysis. */
export function IncidentsView() {
  const session = useSession()
  const incidents = useResource<Incident[]>('/v1/incidents', 5000)
  return (
    <section>
      <h1>Incidents</h1>
      <ErrorLine error={incidents.error} />
      {incidents.data?.length === 0 && <p>No incidents.</p>}
      {(incidents.data ?? []).map((incident) => (
        <article class="card" key={incident.id}>
          <h2>
            {incident.title} <RunState state={incident.state} /> <span class="sub">{incident.severity}</span>
          </h2>
          <p>{incident.summary}</p>
          <p class="sub">
            Opened {when(incident.openedAt)}
            {incident.key !== null && (
              <>
                {' '}
                · key <a href={href('keys', incident.key)}>{incident.key}</a>
              </>
            )}
            {incident.runId !== null && (
              <>
                {' '}
                · run <a href={href('runs', incident.runId)}>{incident.runId}</a> (its page shows the
                timeline)
              </>
            )}
            {incident.escalatedTo.length > 0 && <> · escalated to {incident.escalatedTo.join(', ')}</>}
          </p>
          {incident.rca !== null && (
            <p>
              RCA by {incident.closedBy} at {when(incident.closedAt)}: {incident.rca}
            </p>
          )}
          {incident.state === 'open' && session.may('incidents.close') && (
            <Action
              label="Close with RCA"
              reason="required"
              reasonLabel="Root-cause analysis"
              run={(rca) => api('POST', `/v1/incidents/${encodeURIComponent(incident.id)}/close`, { rca })}
              onDone={incidents.reload}
            />
          )}
        </article>
      ))}
    </section>
  )
}
