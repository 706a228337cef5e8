import type { KeyrotorClient } from '../client/index.js'
import { DRILL_KEY } from '../drills/drill-key.js'
import type { SandboxState } from '../drills/sandbox-state.js'
import type { DrillFacts } from '../drills/scoring/facts.js'
import { scoreDrill, type DrillReport } from '../drills/scoring/index.js'

/** `drill check`: reads what happened through the API, checks consistency, and scores it. */
export async function checkDrill(api: KeyrotorClient, state: SandboxState): Promise<DrillReport> {
  const [audit, runs, approvals, alerts, halt, key, configVersions, configProposals] = await Promise.all([
    body(api.call('listAudit', { query: { since: state.startedAt } })),
    body(api.call('listRuns')),
    body(api.call('listApprovals')),
    body(api.call('listAlerts')),
    body(api.call('getHalt')),
    body(api.call('getKey', { params: { key: DRILL_KEY } })),
    body(api.call('listConfigVersions')),
    body(api.call('listConfigProposals')),
  ])
  // the check's own verify --all comes after the reads: it is not one of the trainee's steps
  const { body: all } = await api.call('verifyAll')
  const facts: DrillFacts = {
    state,
    audit,
    runs,
    approvals,
    alerts,
    halt,
    key,
    configVersions,
    configProposals,
    consistency: {
      passed: all.passed,
      mismatches: all.keys.flatMap((k) => k.mismatches.map((m) => `${k.key}: ${m}`)),
    },
  }
  return scoreDrill(facts)
}

export function renderReport(report: DrillReport): string[] {
  const mark = { done: 'done   ', missing: 'MISSING', 'wrong-order': 'ORDER! ' } as const
  return [
    `drill ${report.scenario}: ${report.recovered ? 'RECOVERED' : 'not recovered'}`,
    'steps:',
    ...report.steps.map(
      (s) =>
        `  ${mark[s.status]} ${s.step}${s.at === null ? '' : ` (${s.at}${s.by === null ? '' : ` by ${s.by}`})`}` +
        (s.status === 'wrong-order' ? ' — done before a step that must come first' : ''),
    ),
    ...(report.lessons.length === 0 ? [] : ['lessons:', ...report.lessons.map((l) => `  - ${l}`)]),
    `consistent (verify --all): ${report.consistent ? 'yes' : 'NO'}`,
    ...report.inconsistencies.map((m) => `  - ${m}`),
    ...(report.unmet.length === 0 ? [] : ['still to do:', ...report.unmet.map((m) => `  - ${m}`)]),
    report.timeToRecoverySeconds === null
      ? 'time to recovery: not recovered yet'
      : `time to recovery: ${report.timeToRecoverySeconds.toFixed(1)} s (from ${report.faultAt})`,
  ]
}

async function body<T>(response: Promise<{ body: T }>): Promise<T> {
  return (await response).body
}
