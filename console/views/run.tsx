import { useEffect } from 'preact/hooks'
import type { RunView as Run } from '../../src/engine/views.js'
import type { Timeline } from '../../src/observability/timeline.js'
import { api } from '../api.js'
import { Action } from '../action.js'
import { when } from '../format.js'
import { href } from '../router.js'
import { useRunEvents } from '../run-events.js'
import { useSession } from '../session.js'
import { useResource } from '../use-resource.js'
import { ErrorLine, Loading, RunState } from './bits.js'

/** One run: its phases as they happen (SSE), its validation checks, its timeline, its actions. */
export function RunView(props: { runId: string }) {
  const session = useSession()
  const path = `/v1/runs/${encodeURIComponent(props.runId)}`
  const run = useResource<Run>(path)
  const live = useRunEvents(props.runId)
  const timeline = useResource<Timeline>(
    run.data === undefined ? null : `/v1/timeline/${encodeURIComponent(run.data.correlationId)}`,
  )
  const { reload: reloadRun } = run
  const { reload: reloadTimeline } = timeline
  // each journal entry may change the run's state: read it again, and the timeline at the end
  useEffect(reloadRun, [live.events.length, live.status, reloadRun])
  useEffect(() => {
    if (live.status === 'ended') reloadTimeline()
  }, [live.status, reloadTimeline])

  if (run.data === undefined)
    return run.error === undefined ? <Loading what="the run" /> : <ErrorLine error={run.error} />
  const r = run.data
  const terminal = ['succeeded', 'failed', 'halted', 'cancelled'].includes(r.state)

  return (
    <section>
      <h1>
        Run {r.id} <RunState state={r.state} />
      </h1>
      <ErrorLine error={run.error} />
      <p class="sub">
        {r.kind} of <a href={href('keys', r.key)}>{r.key}</a>, v{r.fromVersion ?? '—'} → v{r.toVersion ?? '—'}
        , requested by {r.requestedBy} ({r.trigger}) at {when(r.createdAt)}
        {r.reason !== null && <>: “{r.reason}”</>}
      </p>
      {r.failure !== null && (
        <p class="problem">
          {r.failure.class} in {r.failure.phase}: {r.failure.message}
        </p>
      )}
      <div class="actions">
        {session.may('runs.verify') && (
          <Action label="Verify" run={() => api('POST', `${path}/verify`)} onDone={run.reload} />
        )}
        {session.may('runs.retry') && r.state === 'failed' && (
          <Action label="Retry" run={() => api('POST', `${path}/retry`)} onDone={run.reload} />
        )}
        {session.may('runs.cancel') && !terminal && (
          <Action label="Cancel" run={() => api('POST', `${path}/cancel`)} onDone={run.reload} />
        )}
      </div>

      <h2>
        Phases{' '}
        <span class={`stream ${live.status}`} data-testid="stream-status">
          {streamLabel[live.status]}
        </span>
      </h2>
      <ol class="events" data-testid="events">
        {live.events.map((event) => (
          <li key={event.id}>
            <time>{when(event.at)}</time> <span class="phase">{event.phase ?? ''}</span>{' '}
            <code>{event.type}</code> {event.message}
          </li>
        ))}
      </ol>

      <h2>Validation</h2>
      {r.validation === null ? (
        <p>No validation yet.</p>
      ) : (
        <div data-testid="validation">
          <p>
            <RunState state={r.validation.passed ? 'succeeded' : 'failed'} />{' '}
            {r.validation.passed ? 'every check passed' : 'a check failed'}
          </p>
          <ul>
            {r.validation.checks.map((check) => (
              <li key={check.name}>
                {check.passed ? '✓' : '✗'} <strong>{check.name}</strong> {check.detail}
              </li>
            ))}
          </ul>
        </div>
      )}

      <h2>Timeline</h2>
      <ol class="events">
        {(timeline.data?.events ?? []).map((event, i) => (
          <li key={i}>
            <time>{when(event.at)}</time> <span class="phase">{event.source}</span> <code>{event.type}</code>{' '}
            {event.message}
          </li>
        ))}
      </ol>
    </section>
  )
}

const streamLabel = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  ended: 'run ended',
  refused: 'not available',
} as const
