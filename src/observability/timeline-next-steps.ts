import type { TimelineEvent, TimelineRun } from './timeline-types.js'

const RUNBOOKS = {
  failure: 'docs/runbooks/failure-response.md',
  partial: 'docs/runbooks/partial-execution.md',
  release: 'docs/runbooks/halt-release.md',
} as const

/** What each failure class asks of the operator before the verify-then-retry of the playbook. */
const FAILURE_HINTS: Record<string, string> = {
  preflight_rejected:
    'fix what pre-flight refused (change window, key state, dependents unhealthy), then trigger again',
  dependency_not_ready:
    'find the dependent that did not load or switch to the new version (`keyrotor keys show KEY`) and fix it',
  timeout: 'find the dependent that answered too slowly, or raise the phase timeout',
  provider_transient: 'the provider failed transiently: check that it answers again',
  provider_error: 'the provider refused the operation: check its permissions and the key at the provider',
  state_inconsistency:
    'the store and the provider disagree: do not retry before `keyrotor verify KEY` explains why',
  security:
    'treat as a security incident: involve the security lead; consider `keyrotor rotate KEY --emergency`',
  internal: 'keyrotor itself failed: keep the logs of this correlation id for the maintainers',
}

/**
 * The next steps the story asks for, derived from the state of its runs and incidents: the
 * playbook's order is failure → verify → retry, and halted → forward correction → halt release
 * → close the incident with its RCA.
 */
export function nextSteps(
  runs: readonly TimelineRun[],
  incidents: readonly { id: string; state: string }[],
  events: readonly TimelineEvent[],
): string[] {
  const steps: string[] = []
  const own = runs.filter((r) => !r.linked)
  const corrections = runs.filter((r) => r.linked)
  const haltReleased = events.some((e) => e.source === 'audit' && e.type === 'halt.released')
  for (const run of own) steps.push(...stepsForRun(run, corrections, haltReleased))
  for (const incident of incidents.filter((i) => i.state === 'open')) {
    steps.push(
      `Once the cause is fixed and written down, close incident ${incident.id} with its root cause analysis: \`keyrotor incidents close ${incident.id} --rca FILE\`.`,
    )
  }
  if (steps.length === 0) steps.push('Nothing is left to do: no run of this story needs an operator.')
  return steps
}

function stepsForRun(run: TimelineRun, corrections: readonly TimelineRun[], haltReleased: boolean): string[] {
  switch (run.state) {
    case 'failed': {
      const hint = FAILURE_HINTS[run.failure?.class ?? ''] ?? 'find the cause in the events above'
      return [
        `Run ${run.id} failed in ${run.failure?.phase ?? '?'} (${run.failure?.class ?? '?'}): ${hint}.`,
        `Then \`keyrotor runs verify ${run.id}\` and, once it passes, \`keyrotor runs retry ${run.id}\` (${RUNBOOKS.failure}).`,
      ]
    }
    case 'halted': {
      if (haltReleased) return []
      const done = corrections.find((r) => r.state === 'succeeded')
      if (done !== undefined) {
        return [
          `Forward correction ${done.id} succeeded. Release the global halt: \`keyrotor verify --all\`, \`keyrotor halt release\`, then a security and an admin person approve (${RUNBOOKS.release}).`,
        ]
      }
      const pending = corrections.find(
        (r) => r.state === 'awaiting_approval' || r.state === 'queued' || r.state === 'running',
      )
      if (pending !== undefined) {
        return [
          `Forward correction ${pending.id} is ${pending.state}: a security person approves it (\`keyrotor approvals list\`), then wait for it (\`keyrotor runs wait ${pending.id}\`) (${RUNBOOKS.partial}).`,
        ]
      }
      return [
        `Run ${run.id} stopped past the point of no return and engaged the global halt. Correct forward: \`keyrotor forward-correct ${run.key} --reason TEXT\`, approved by a security person (${RUNBOOKS.partial}); then release the halt (${RUNBOOKS.release}).`,
      ]
    }
    case 'awaiting_approval':
      return [`Run ${run.id} waits for an approval: \`keyrotor approvals list\`, then approve or reject it.`]
    case 'queued':
    case 'running':
      return [`Run ${run.id} is ${run.state}: follow it with \`keyrotor runs wait ${run.id}\`.`]
    default:
      return []
  }
}
