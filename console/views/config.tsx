import { useState } from 'preact/hooks'
import type { ConfigProposalView, ConfigVersionView } from '../../src/config-changes/proposals.js'
import { api, ApiError } from '../api.js'
import { Action } from '../action.js'
import { when } from '../format.js'
import { useSession } from '../session.js'
import { useResource } from '../use-resource.js'
import { ErrorLine, RunState } from './bits.js'

interface ActiveConfig {
  activeVersion: number | null
  hash: string | null
  file: { status: string; note?: string }
}

/** Config versions and proposals with their diff; admins propose and apply, a second person approves. */
export function ConfigView() {
  const session = useSession()
  const active = useResource<ActiveConfig>('/v1/config')
  const versions = useResource<ConfigVersionView[]>('/v1/config/versions')
  const proposals = useResource<ConfigProposalView[]>('/v1/config/proposals', 5000)
  const reload = () => {
    active.reload()
    versions.reload()
    proposals.reload()
  }
  return (
    <section>
      <h1>Config</h1>
      <ErrorLine error={active.error} />
      {active.data !== undefined && (
        <p>
          Active version {active.data.activeVersion ?? '—'} <code>{active.data.hash?.slice(0, 12)}</code>; the
          server's file: {active.data.file.status}
          {active.data.file.note !== undefined && ` (${active.data.file.note})`}
        </p>
      )}
      <h2>Proposals</h2>
      {proposals.data?.length === 0 && <p>No proposals.</p>}
      {(proposals.data ?? []).map((p) => (
        <Proposal key={p.id} proposal={p} onChange={reload} />
      ))}
      {session.may('config.propose') && <ProposeForm onDone={reload} />}
      <h2>Versions</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Summary</th>
            <th scope="col">Proposed</th>
            <th scope="col">Approved</th>
            <th scope="col">Applied</th>
          </tr>
        </thead>
        <tbody>
          {(versions.data ?? []).map((v) => (
            <tr key={v.version}>
              <td>
                v{v.version} {v.active && <RunState state="active" />}
              </td>
              <td>{v.summary ?? v.source}</td>
              <td>{v.proposedBy ?? '—'}</td>
              <td>{v.approvedBy ?? '—'}</td>
              <td>
                {v.appliedBy} {when(v.appliedAt)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}

function Proposal(props: { proposal: ConfigProposalView; onChange: () => void }) {
  const session = useSession()
  const p = props.proposal
  const detail = useResource<ConfigProposalView>(`/v1/config/proposals/${encodeURIComponent(p.id)}`)
  const path = `/v1/config/proposals/${encodeURIComponent(p.id)}`
  return (
    <article class="card">
      <h3>
        {p.summary} <RunState state={p.state} />
      </h3>
      <p class="sub">
        Proposed by {p.proposedBy} at {when(p.createdAt)} on v{p.baseVersion}; rollback: {p.rollbackPlan}
      </p>
      <details>
        <summary>Diff</summary>
        <pre class="diff">{detail.data?.diff ?? '…'}</pre>
      </details>
      <div class="actions">
        {p.state === 'pending' && session.may('approvals.decide') && p.proposedBy !== session.user && (
          <Action
            label="Approve"
            reason="optional"
            run={(reason) => api('POST', `${path}/approve`, reason === '' ? {} : { reason })}
            onDone={props.onChange}
          />
        )}
        {p.state === 'approved' && session.may('config.apply') && (
          <Action
            label="Apply"
            danger
            confirmWord="APPLY"
            run={() => api('POST', `${path}/apply`)}
            onDone={props.onChange}
          />
        )}
      </div>
    </article>
  )
}

function ProposeForm(props: { onDone: () => void }) {
  const [yaml, setYaml] = useState('')
  const [summary, setSummary] = useState('')
  const [rollbackPlan, setRollbackPlan] = useState('')
  const [problem, setProblem] = useState<string | null>(null)
  async function propose(event: Event) {
    event.preventDefault()
    setProblem(null)
    try {
      await api('POST', '/v1/config/proposals', { yaml, summary, rollbackPlan })
      setYaml('')
      setSummary('')
      setRollbackPlan('')
      props.onDone()
    } catch (error) {
      setProblem(error instanceof ApiError ? error.detail : String(error))
    }
  }
  return (
    <details>
      <summary>Propose a change</summary>
      <form class="action-form" onSubmit={(e) => void propose(e)}>
        <label for="propose-yaml">keyrotor.yaml</label>
        <textarea id="propose-yaml" rows={10} value={yaml} onInput={(e) => setYaml(e.currentTarget.value)} />
        <label for="propose-summary">Summary</label>
        <input id="propose-summary" value={summary} onInput={(e) => setSummary(e.currentTarget.value)} />
        <label for="propose-rollback">Rollback plan</label>
        <input
          id="propose-rollback"
          value={rollbackPlan}
          onInput={(e) => setRollbackPlan(e.currentTarget.value)}
        />
        <button type="submit" disabled={yaml === '' || summary === '' || rollbackPlan === ''}>
          Propose
        </button>
        {problem !== null && (
          <p class="problem" role="alert">
            {problem}
          </p>
        )}
      </form>
    </details>
  )
}
