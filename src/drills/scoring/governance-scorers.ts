import type { RunView } from '../../cli/api-types.js'
import { detail, done, isTrainee, traineeAudit, traineeVerifies } from './facts.js'
import type { DrillFacts, Done, Scorer } from './facts.js'

function traineeRuns(f: DrillFacts, kind: string): RunView[] {
  return f.runs
    .filter((r) => r.kind === kind && isTrainee(r.requestedBy) && r.createdAt >= f.state.faultAt)
    .sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1))
}

function finished(run: RunView | undefined): Done {
  return run?.state === 'succeeded' ? { at: run.finishedAt ?? '', by: run.requestedBy } : null
}

/** The approval of the trainee's request, given by someone other than the requester. */
function approvedBy(f: DrillFacts, action: string): Done {
  const approval = f.approvals.find((a) => a.action === action && a.state === 'approved')
  const last = approval?.approvals.at(-1)
  return last === undefined || last.by === approval?.requestedBy ? null : { at: last.at, by: last.by }
}

/** A compromised key: emergency request, a second person approves, v1 is revoked at once. */
export const emergency: Scorer = {
  steps: [
    {
      step: 'request an emergency rotation with a reason',
      find: (f) => {
        const run = traineeRuns(f, 'emergency-rotate')[0]
        return run === undefined ? null : { at: run.createdAt, by: run.requestedBy }
      },
    },
    {
      step: 'a security person other than the requester approves it',
      find: (f) => approvedBy(f, 'emergency-rotate'),
    },
    {
      step: 'the emergency rotation succeeded, with its validation',
      find: (f) => finished(traineeRuns(f, 'emergency-rotate').find((r) => r.state === 'succeeded')),
    },
    {
      step: 'the compromised version is revoked',
      find: (f) =>
        finished(
          f.runs.find((r) => r.kind === 'revoke' && r.fromVersion === f.state.facts.compromisedVersion),
        ),
    },
  ],
  unmet: (f) => {
    const version = f.key.versions.find((v) => v.version === f.state.facts.compromisedVersion)
    return version === undefined || ['disabled', 'destroyed'].includes(version.state)
      ? []
      : [`v${version.version} is still ${version.state}`]
  },
}

/** A duplicate trigger: recognise the refusal, see the first run through, close the alert. */
export const concurrentTrigger: Scorer = {
  steps: [
    {
      step: 'verify the key the scheduler rotated',
      find: (f) => done(traineeVerifies(f, true)[0]),
      after: [],
    },
    {
      step: 'acknowledge the concurrent_rotation alert',
      find: (f) => done(traineeAudit(f, 'alerts.ack', (r) => detail(r, 'type') === 'concurrent_rotation')[0]),
      after: [],
    },
  ],
  lessons: (f) =>
    secondRotations(f).map(
      (r) =>
        `${r.createdAt} ${r.requestedBy ?? '?'} started rotation ${r.id} by hand although the scheduler's run ${String(f.state.facts.runId)} had succeeded: a refused duplicate needs no rerun.`,
    ),
  unmet: (f) =>
    secondRotations(f).length > 0 ? ['a second rotation was started after the first had succeeded'] : [],
}

function secondRotations(f: DrillFacts): RunView[] {
  return traineeRuns(f, 'rotate')
}

/** A change freeze: no way around it; the rotation runs once the freeze has ended. */
export const changeWindow: Scorer = {
  steps: [
    {
      step: 'the rotation runs after the freeze, and succeeds',
      find: (f) =>
        finished(
          f.runs.find(
            (r) =>
              r.kind === 'rotate' &&
              r.state === 'succeeded' &&
              r.createdAt >= String(f.state.facts.freezeEndsAt),
          ),
        ),
    },
  ],
  lessons: (f) =>
    workarounds(f).map(
      (what) => `${what}: a freeze is lifted by a reviewed change, not worked around during it.`,
    ),
  unmet: (f) => workarounds(f),
}

function workarounds(f: DrillFacts): string[] {
  const freezeEnds = String(f.state.facts.freezeEndsAt)
  return [
    ...traineeRuns(f, 'emergency-rotate')
      .filter((r) => r.createdAt < freezeEnds)
      .map(
        (r) =>
          `${r.createdAt} ${r.requestedBy ?? '?'} requested emergency rotation ${r.id} during the freeze`,
      ),
    ...traineeAudit(f, 'approval.requested', (r) => detail(r, 'action') === 'config.apply')
      .filter((r) => r.at < freezeEnds)
      .map((r) => `${r.at} ${r.actor} proposed a config change during the freeze`),
  ]
}

/** Propose, review, approve as another person, apply, see it break, roll back, verify. */
export const configChange: Scorer = {
  steps: [
    {
      step: 'propose the change (with a summary and a rollback plan)',
      find: (f) => {
        const change = proposal(f, 'change')
        return change === undefined ? null : { at: change.createdAt, by: change.proposedBy }
      },
    },
    { step: 'another person approves it', find: (f) => proposalApproved(f, proposal(f, 'change')) },
    { step: 'apply it', find: (f) => applied(f, proposal(f, 'change')) },
    {
      step: 'verify after the change (it finds the broken probe)',
      find: (f) => {
        const at = applied(f, proposal(f, 'change'))?.at ?? ''
        return done(traineeVerifies(f).find((r) => r.at >= at))
      },
    },
    {
      step: 'roll back: propose version 1 again, approved by another person, applied',
      find: (f) => {
        const rollback = proposal(f, 'rollback')
        return proposalApproved(f, rollback) === null ? null : applied(f, rollback)
      },
    },
    {
      step: 'verify passes after the rollback',
      find: (f) => {
        const at = applied(f, proposal(f, 'rollback'))?.at ?? '\uffff'
        return done(traineeVerifies(f, true).find((r) => r.at >= at))
      },
    },
  ],
  unmet: (f) => {
    const first = f.configVersions.find((v) => v.version === 1)
    const active = f.configVersions.find((v) => v.active)
    return first !== undefined && active?.hash === first.hash
      ? []
      : [`the active config (version ${active?.version ?? '?'}) is not the one from before the change`]
  },
}

/** The trainee's change (a new text) or rollback (version 1's text again), the first of each. */
function proposal(f: DrillFacts, which: 'change' | 'rollback') {
  const first = f.configVersions.find((v) => v.version === 1)?.hash
  return f.configProposals
    .filter((p) => isTrainee(p.proposedBy) && (which === 'rollback') === (p.hash === first))
    .sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1))
    .find((p) => p.appliedVersion !== null || p.state !== 'rejected')
}

function proposalApproved(f: DrillFacts, p: ReturnType<typeof proposal>): Done {
  if (p === undefined || p.approvedBy === null || p.approvedBy === p.proposedBy) return null
  const approval = f.approvals.find((a) => a.id === p.approvalId)
  return { at: approval?.approvals.at(-1)?.at ?? '', by: p.approvedBy }
}

function applied(f: DrillFacts, p: ReturnType<typeof proposal>): Done {
  const version = f.configVersions.find((v) => v.version === p?.appliedVersion)
  return version === undefined ? null : { at: version.appliedAt, by: null }
}
