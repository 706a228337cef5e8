import type { ApprovalView } from '../../src/governance/approvals.js'
import { api } from '../api.js'
import { Action } from '../action.js'
import { when } from '../format.js'
import { href } from '../router.js'
import { useSession, type Session } from '../session.js'
import { useResource } from '../use-resource.js'
import { ErrorLine, RunState } from './bits.js'

/**
 * Whether to offer the decision: the role may decide and is one the approval asks for (a
 * requirement may be "security|admin"), and the person neither asked for it nor approved it
 * already. The server enforces the same and more (a role already covered, an expiry).
 */
function mayDecide(session: Session, approval: ApprovalView): boolean {
  if (!session.may('approvals.decide') || approval.state !== 'pending') return false
  if (approval.requestedBy === session.user) return false
  if (approval.approvals.some((grant) => grant.by === session.user)) return false
  return approval.requiredRoles.some((requirement) => requirement.split('|').includes(session.role))
}

/** The approvals inbox: what is asked, by whom, its digest; approve or reject with a reason. */
export function ApprovalsView() {
  const session = useSession()
  const approvals = useResource<ApprovalView[]>('/v1/approvals?state=pending', 3000)
  return (
    <section>
      <h1>Approvals</h1>
      <ErrorLine error={approvals.error} />
      {approvals.data?.length === 0 && <p>Nothing waits for an approval.</p>}
      {(approvals.data ?? []).map((approval) => (
        <article class="card" key={approval.id} data-testid={`approval-${approval.action}`}>
          <h2>
            {approval.action} <span class="sub">{approval.subject}</span> <RunState state={approval.state} />
          </h2>
          <dl>
            <dt>Asked by</dt>
            <dd>
              {approval.requestedBy} at {when(approval.createdAt)}
            </dd>
            <dt>Reason</dt>
            <dd>{approval.reason}</dd>
            <dt>Needs</dt>
            <dd>
              {approval.requiredRoles.join(' + ')}; approved so far by{' '}
              {approval.approvals.length === 0
                ? 'nobody'
                : approval.approvals.map((g) => `${g.by} (${g.role})`).join(', ')}
            </dd>
            {approval.runId !== null && (
              <>
                <dt>Run</dt>
                <dd>
                  <a href={href('runs', approval.runId)}>{approval.runId}</a>
                </dd>
              </>
            )}
            <dt>Digest</dt>
            <dd>
              <code>{approval.digest}</code>
            </dd>
            <dt>Expires</dt>
            <dd>{when(approval.expiresAt)}</dd>
          </dl>
          <details>
            <summary>What exactly is approved</summary>
            <pre>{JSON.stringify(approval.payload, null, 2)}</pre>
          </details>
          {approval.requestedBy === session.user && (
            <p class="sub">You asked for this: someone else approves it.</p>
          )}
          {mayDecide(session, approval) && (
            <div class="actions">
              <Action
                label="Approve"
                reason="optional"
                run={(reason) =>
                  api('POST', `/v1/approvals/${approval.id}/approve`, reason === '' ? {} : { reason })
                }
                onDone={approvals.reload}
              />
              <Action
                label="Reject"
                danger
                reason="required"
                run={(reason) => api('POST', `/v1/approvals/${approval.id}/reject`, { reason })}
                onDone={approvals.reload}
              />
            </div>
          )}
        </article>
      ))}
    </section>
  )
}
