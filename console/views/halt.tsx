import type { ApprovalView } from '../../src/governance/approvals.js'
import type { HaltStatus } from '../../src/http/routes/halt.js'
import { api } from '../api.js'
import { Action } from '../action.js'
import { when } from '../format.js'
import { useSession } from '../session.js'
import { useResource } from '../use-resource.js'
import { ErrorLine, RunState } from './bits.js'

/** The global halt: its status, engaging it, and the release with its two approvals. */
export function HaltView() {
  const session = useSession()
  const halt = useResource<HaltStatus>('/v1/halt', 3000)
  const approvals = useResource<ApprovalView[]>('/v1/approvals?state=pending', 3000)
  const releases = (approvals.data ?? []).filter((a) => a.action === 'halt.release')
  const reload = () => {
    halt.reload()
    approvals.reload()
  }
  const h = halt.data
  return (
    <section>
      <h1>Halt</h1>
      <ErrorLine error={halt.error} />
      {h !== undefined && (
        <p data-testid="halt-status">
          {h.engaged ? (
            <>
              <RunState state="halted" /> since {when(h.since)} by {h.by}: {h.reason}
            </>
          ) : (
            <>
              <RunState state="active" /> not engaged: runs proceed.
            </>
          )}
        </p>
      )}
      <div class="actions">
        {h?.engaged === false && session.may('halt.engage') && (
          <Action
            label="Engage the halt"
            danger
            reason="required"
            confirmWord="HALT"
            run={(reason) => api('POST', '/v1/halt', { reason })}
            onDone={reload}
          />
        )}
        {h?.engaged === true && session.may('halt.release') && releases.length === 0 && (
          <Action
            label="Request release"
            danger
            reason="required"
            confirmWord="RELEASE"
            run={(reason) => api('POST', '/v1/halt/release', { reason })}
            onDone={reload}
          />
        )}
      </div>
      {h?.engaged === true && (
        <p class="sub">
          Releasing needs every key to verify (keyrotor verify --all) and the approval of a security person
          and an admin other than the requester, in the approvals inbox.
        </p>
      )}
      {releases.map((release) => (
        <p key={release.id} data-testid="release-pending">
          Release asked by {release.requestedBy}: approved by{' '}
          {release.approvals.length === 0
            ? 'nobody yet'
            : release.approvals.map((g) => `${g.by} (${g.role})`).join(', ')}
          ; needs {release.requiredRoles.join(' + ')}. <a href="#/approvals">Decide in Approvals</a>
        </p>
      ))}
    </section>
  )
}
