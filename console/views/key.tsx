import type { KeyView as Key, RunView } from '../../src/engine/views.js'
import { api } from '../api.js'
import { Action } from '../action.js'
import { age, when } from '../format.js'
import { href } from '../router.js'
import { useSession } from '../session.js'
import { useResource } from '../use-resource.js'
import { ErrorLine, Loading, RunState } from './bits.js'

/** One key: versions, aliases, each dependent's last answer, its runs, and what the role may do. */
export function KeyView(props: { keyId: string }) {
  const session = useSession()
  const path = `/v1/keys/${encodeURIComponent(props.keyId)}`
  const key = useResource<Key>(path, 5000)
  const runs = useResource<RunView[]>(`/v1/runs?key=${encodeURIComponent(props.keyId)}&limit=20`, 5000)
  const started = (run: RunView) => (window.location.hash = href('runs', run.id))
  if (key.data === undefined)
    return key.error === undefined ? <Loading what="the key" /> : <ErrorLine error={key.error} />
  const k = key.data

  return (
    <section>
      <h1>
        Key {k.id} {k.frozen !== null && <span class="badge bad">frozen</span>}
      </h1>
      <ErrorLine error={key.error} />
      <p class="sub">
        {k.algorithm} on {k.provider}, owned by {k.owner}; active{' '}
        {k.activeVersion === null ? 'none' : `v${k.activeVersion}`}
      </p>
      {k.frozen !== null && (
        <p class="problem" data-testid="frozen-reason">
          Frozen since {when(k.frozen.since)}: {k.frozen.reason ?? 'an unexpected transition'}. Find who
          changed the key at the provider, restore it, then verify the key to thaw it.
        </p>
      )}
      <div class="actions">
        {session.may('rotation.trigger') && (
          <Action
            label="Rotate now"
            run={() => api<RunView>('POST', `${path}/rotations`, {}).then(started)}
          />
        )}
        {session.may('rotation.trigger') && (
          <Action
            label="Emergency rotation"
            danger
            reason="required"
            confirmWord={k.id}
            run={(reason) =>
              api<RunView>('POST', `${path}/rotations`, { emergency: true, reason }).then(started)
            }
          />
        )}
        {session.may('rotation.forward-correct') && k.lastRun?.state === 'halted' && (
          <Action
            label="Forward correction"
            reason="required"
            run={(reason) => api<RunView>('POST', `${path}/forward-corrections`, { reason }).then(started)}
          />
        )}
        {session.may('keys.verify') && (
          <Action label="Verify" run={() => api('POST', `${path}/verify`)} onDone={key.reload} />
        )}
      </div>

      <h2>Versions</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">State</th>
            <th scope="col">Created</th>
            <th scope="col">Age</th>
          </tr>
        </thead>
        <tbody>
          {k.versions.map((v) => (
            <tr key={v.version}>
              <td>v{v.version}</td>
              <td>
                <RunState state={v.state} /> {v.compromised && <span class="badge bad">compromised</span>}
              </td>
              <td>{when(v.createdAt)}</td>
              <td>{age(v.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <h2>Aliases</h2>
      <p>{k.aliases.length === 0 ? 'none' : k.aliases.map((a) => `${a.name} → v${a.version}`).join(', ')}</p>

      <h2>Dependents</h2>
      <table data-testid="dependents">
        <thead>
          <tr>
            <th scope="col">Dependent</th>
            <th scope="col">Accepts</th>
            <th scope="col">Active</th>
            <th scope="col">Last probe</th>
            <th scope="col">Last notice</th>
            <th scope="col">Last error</th>
          </tr>
        </thead>
        <tbody>
          {k.dependents.map((d) => (
            <tr key={d.name}>
              <td>
                {d.name} {d.critical && <span class="badge neutral">critical</span>}
              </td>
              <td>{d.accepts === null ? '—' : d.accepts.map((n) => `v${n}`).join(', ')}</td>
              <td>{d.active === null ? '—' : `v${d.active}`}</td>
              <td>{age(d.lastProbeAt)} ago</td>
              <td>
                {d.lastNotice ?? '—'} {d.lastNoticeAt !== null && `(${age(d.lastNoticeAt)} ago)`}
              </td>
              <td>{d.lastError ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {k.dependents.length === 0 && <p>No dependents.</p>}

      <h2>Runs</h2>
      <RunTable runs={runs.data ?? []} />
    </section>
  )
}

export function RunTable(props: { runs: RunView[] }) {
  return (
    <table data-testid="runs">
      <thead>
        <tr>
          <th scope="col">Run</th>
          <th scope="col">Key</th>
          <th scope="col">Kind</th>
          <th scope="col">State</th>
          <th scope="col">Phase</th>
          <th scope="col">Versions</th>
          <th scope="col">By</th>
          <th scope="col">Created</th>
        </tr>
      </thead>
      <tbody>
        {props.runs.map((run) => (
          <tr key={run.id}>
            <td>
              <a href={href('runs', run.id)}>{run.id}</a>
            </td>
            <td>{run.key}</td>
            <td>{run.kind}</td>
            <td>
              <RunState state={run.state} />
            </td>
            <td>{run.phase}</td>
            <td>
              {run.fromVersion === null ? '—' : `v${run.fromVersion}`} →{' '}
              {run.toVersion === null ? '—' : `v${run.toVersion}`}
            </td>
            <td>{run.requestedBy}</td>
            <td>{when(run.createdAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
