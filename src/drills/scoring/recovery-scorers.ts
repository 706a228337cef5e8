import type { RunView } from '../../cli/api-types.js'
import { detail, done, isTrainee, traineeAudit, traineeVerifies } from './facts.js'
import type { DrillFacts, Done, Scorer } from './facts.js'
import { releasesBeforeVerify, retriesBeforeVerify } from './lessons.js'

function runOf(facts: DrillFacts, id: unknown): RunView | undefined {
  return facts.runs.find((r) => r.id === id)
}

function fixed(facts: DrillFacts): Done {
  return facts.state.fixedAt === null ? null : { at: facts.state.fixedAt, by: null }
}

/** The failure playbook on the run the fault failed: fix, verify, retry, and the run succeeds. */
function verifyFixRetry(fixBeforeVerify: boolean): Scorer {
  const runId = (f: DrillFacts) => f.state.facts.runId
  const retries = (f: DrillFacts) => traineeAudit(f, 'run.retried', (r) => detail(r, 'runId') === runId(f))
  return {
    steps: [
      { step: 'fix the cause outside keyrotor (drill fix)', find: fixed, after: [] },
      {
        step: 'verify the failed run (a verify that passes after the failure)',
        // the last passing verify before the last retry: the one that allowed it
        find: (f) => {
          const last = retries(f).at(-1)
          const verifies = traineeAudit(
            f,
            'run.verified',
            (r) => detail(r, 'runId') === runId(f) && detail(r, 'passed') === true,
          ).filter((v) => last === undefined || v.seq < last.seq)
          return done(verifies.at(-1))
        },
        after: fixBeforeVerify ? ['fix the cause outside keyrotor (drill fix)'] : [],
      },
      {
        step: 'retry the run forward',
        find: (f) => done(retries(f).at(-1)),
        after: [
          'fix the cause outside keyrotor (drill fix)',
          'verify the failed run (a verify that passes after the failure)',
        ],
      },
      {
        step: 'the run succeeded',
        find: (f) => {
          const run = runOf(f, runId(f))
          return run?.state === 'succeeded' ? { at: run.finishedAt ?? '', by: null } : null
        },
      },
    ],
    lessons: (f) => [
      ...retriesBeforeVerify(f),
      ...retries(f)
        .slice(0, -1)
        .map(
          (r) =>
            `${r.at} ${r.actor} retried run ${String(detail(r, 'runId'))} before its cause was fixed: it failed again. Fix first, then verify and retry.`,
        ),
    ],
  }
}

export const failedRotation = verifyFixRetry(false)
export const validationFailure = verifyFixRetry(true)

/** Halt, forward correction approved by another person, verify --all, two-person release. */
export const partialExecution: Scorer = {
  steps: [
    {
      step: 'request a forward correction',
      find: (f) => {
        const run = forwardCorrection(f)
        return run === undefined ? null : { at: run.createdAt, by: run.requestedBy }
      },
    },
    {
      step: 'a security person other than the requester approves it',
      find: (f) => {
        const approval = f.approvals.find(
          (a) => a.action === 'forward-correct' && a.state === 'approved' && isTrainee(a.requestedBy),
        )
        const last = approval?.approvals.at(-1)
        return last === undefined ? null : { at: last.at, by: last.by }
      },
    },
    {
      step: 'the forward correction succeeded',
      find: (f) => {
        const run = forwardCorrection(f)
        return run?.state === 'succeeded' ? { at: run.finishedAt ?? '', by: null } : null
      },
    },
    {
      step: 'verify --all passes',
      find: (f) => {
        const fixedAt = forwardCorrection(f)?.finishedAt ?? ''
        const passes = traineeAudit(
          f,
          'keys.verified',
          (r) => detail(r, 'purpose') === 'verify --all' && detail(r, 'passed') === true,
        )
        return done(passes.find((r) => r.at >= fixedAt) ?? passes.at(-1))
      },
    },
    {
      step: 'request the halt release',
      find: (f) =>
        done(traineeAudit(f, 'approval.requested', (r) => detail(r, 'action') === 'halt.release').at(-1)),
    },
    {
      step: 'two other people (security, admin) approve: the halt is released',
      find: (f) =>
        done(f.audit.filter((r) => r.action === 'halt.released' && r.at >= f.state.faultAt).at(-1)),
    },
  ],
  lessons: releasesBeforeVerify,
  unmet: (f) => (f.halt.engaged ? ['the global halt is still engaged'] : []),
}

/** The trainee's forward correction: the one that succeeded, else the latest asked for. */
function forwardCorrection(f: DrillFacts): RunView | undefined {
  const mine = f.runs
    .filter((r) => r.kind === 'forward-correct' && isTrainee(r.requestedBy))
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))
  return mine.find((r) => r.state === 'succeeded') ?? mine[0]
}

/** A version disabled behind keyrotor's back: see it, have the provider repaired, verify again. */
export const unexpectedTransition: Scorer = {
  steps: [
    {
      step: 'verify the key and read the unexpected transition',
      find: (f) => done(traineeVerifies(f, false)[0]),
      after: [],
    },
    { step: 'repair it at the provider (drill fix)', find: fixed, after: [] },
    {
      step: 'verify passes: the key is thawed',
      find: (f) => {
        const since = f.state.fixedAt ?? '\uffff'
        const passes = traineeVerifies(f, true)
        return done(passes.find((r) => r.at >= since) ?? passes.at(-1))
      },
      after: ['repair it at the provider (drill fix)'],
    },
  ],
  unmet: (f) =>
    f.alerts.some((a) => a.type === 'unexpected_transition' && a.state === 'open')
      ? ['the unexpected_transition alert is still open']
      : [],
}
