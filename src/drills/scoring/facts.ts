import type { AlertView, ApprovalView, HaltView, KeyView, RunView } from '../../cli/api-types.js'
import type { ScenarioName } from '../catalog.js'
import { TRAINEE_USERS, type SandboxState } from '../sandbox-state.js'

export interface AuditRecord {
  seq: number
  at: string
  actor: string
  action: string
  target: string | null
  details: Record<string, unknown> | null
}

export interface ConfigVersion {
  version: number
  hash: string
  active: boolean
  appliedAt: string
}

export interface ConfigProposal {
  id: string
  createdAt: string
  state: string
  hash: string
  proposedBy: string
  approvalId: string
  approvedBy: string | null
  appliedVersion: number | null
}

/** What `drill check` reads from the sandbox's API, and the sandbox's own record of the fault. */
export interface DrillFacts {
  state: SandboxState
  audit: AuditRecord[]
  runs: RunView[]
  approvals: ApprovalView[]
  alerts: AlertView[]
  halt: HaltView
  key: KeyView
  configVersions: ConfigVersion[]
  configProposals: ConfigProposal[]
  /** `verify --all`, run by the check itself. */
  consistency: { passed: boolean; mismatches: string[] }
}

export type StepStatus = 'done' | 'missing' | 'wrong-order'

export interface StepResult {
  step: string
  status: StepStatus
  at: string | null
  by: string | null
}

export interface DrillReport {
  scenario: ScenarioName
  recovered: boolean
  steps: StepResult[]
  /** Mistakes the system refused, and what they teach. */
  lessons: string[]
  consistent: boolean
  /** What `verify --all` found wrong. */
  inconsistencies: string[]
  /** What the scenario still needs besides its steps (the halt released, the alert resolved). */
  unmet: string[]
  faultAt: string
  recoveredAt: string | null
  timeToRecoverySeconds: number | null
}

/** When and by whom a step was done; null while it is not. */
export type Done = { at: string; by: string | null } | null

/** One expected step of a scenario, found in the facts. */
export interface ExpectedStep {
  step: string
  find: (facts: DrillFacts) => Done
  /** The steps it must come after (by name); default: the step before it. */
  after?: string[]
}

/** A scenario's scoring: its steps in order, the lessons found, and any extra recovery condition. */
export interface Scorer {
  steps: ExpectedStep[]
  lessons?: (facts: DrillFacts) => string[]
  /** What must hold besides the steps (the halt released, the key thawed), as a failing reason. */
  unmet?: (facts: DrillFacts) => string[]
}

const TRAINEES = new Set<string>(Object.values(TRAINEE_USERS))

export function isTrainee(user: string | null | undefined): boolean {
  return user !== null && user !== undefined && TRAINEES.has(user)
}

/** The trainee's audit records of `action` since the fault, oldest first, that satisfy `where`. */
export function traineeAudit(
  facts: DrillFacts,
  action: string,
  where: (record: AuditRecord) => boolean = () => true,
): AuditRecord[] {
  return facts.audit
    .filter((r) => r.action === action && isTrainee(r.actor) && r.at >= facts.state.faultAt && where(r))
    .sort((a, b) => a.seq - b.seq)
}

/**
 * The trainee's checks of the key: `verify KEY` or their own `verify --all` (not the one a halt
 * release runs by itself), oldest first; `passed` narrows to those that passed or failed.
 */
export function traineeVerifies(facts: DrillFacts, passed?: boolean): AuditRecord[] {
  const fits = (r: AuditRecord) => passed === undefined || r.details?.passed === passed
  return [
    ...traineeAudit(facts, 'key.verified', fits),
    ...traineeAudit(facts, 'keys.verified', (r) => fits(r) && r.details?.purpose !== 'halt.release'),
  ].sort((a, b) => a.seq - b.seq)
}

export function done(record: { at: string; actor?: string } | undefined, by?: string | null): Done {
  return record === undefined ? null : { at: record.at, by: by ?? record.actor ?? null }
}

export function detail(record: AuditRecord, name: string): unknown {
  return record.details?.[name]
}

/** Scores the facts: each step done, missing or done before a step that should precede it. */
export function score(scenario: ScenarioName, scorer: Scorer, facts: DrillFacts): DrillReport {
  let latest = ''
  const when = new Map<string, string>()
  const steps: StepResult[] = scorer.steps.map(({ step, find, after }, index) => {
    const found = find(facts)
    if (found === null) return { step, status: 'missing', at: null, by: null }
    const before = after ?? (index === 0 ? [] : [scorer.steps[index - 1]?.step ?? ''])
    const early = before.some((name) => (when.get(name) ?? '') > found.at)
    when.set(step, found.at)
    if (found.at > latest) latest = found.at
    return { step, status: early ? 'wrong-order' : 'done', at: found.at, by: found.by }
  })
  const lessons = scorer.lessons?.(facts) ?? []
  const unmet = scorer.unmet?.(facts) ?? []
  const consistent = facts.consistency.passed
  const recovered = consistent && unmet.length === 0 && steps.every((s) => s.status === 'done')
  const faultAt = facts.state.faultAt
  const recoveredAt = recovered ? latest : null
  return {
    scenario,
    recovered,
    steps,
    lessons,
    consistent,
    inconsistencies: facts.consistency.mismatches,
    unmet,
    faultAt,
    recoveredAt,
    timeToRecoverySeconds:
      recoveredAt === null ? null : Math.max(0, (Date.parse(recoveredAt) - Date.parse(faultAt)) / 1000),
  }
}
