import { useState } from 'preact/hooks'
import type { Incident } from '../../src/observability/incidents.js'
import type { Timeline } from '../../src/observability/timeline.js'
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
          {incident.correlationId !== null && <IncidentTimeline correlationId={incident.correlationId} />}
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

/** The incident's story, read when opened: runs, phases, alerts, approvals, audit records. */
function IncidentTimeline(props: { correlationId: string }) {
  const [open, setOpen] = useState(false)
  const timeline = useResource<Timeline>(
    open ? `/v1/timeline/${encodeURIComponent(props.correlationId)}` : null,
  )
  return (
    <details onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Timeline</summary>
      <ErrorLine error={timeline.error} />
      <ol class="events">
        {(timeline.data?.events ?? []).map((event, i) => (
          <li key={i}>
            <time>{when(event.at)}</time> <span class="phase">{event.source}</span> <code>{event.type}</code>{' '}
            {event.message}
          </li>
        ))}
      </ol>
    </details>
  )
}
