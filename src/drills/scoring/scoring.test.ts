import { describe, expect, it } from 'vitest'
import type { ApprovalView, RunView } from '../../cli/api-types.js'
import type { SandboxState } from '../sandbox-state.js'
import type { AuditRecord, DrillFacts } from './facts.js'
import { scoreDrill } from './index.js'

const FAULT_AT = '2026-12-03T10:00:00.000Z'
const at = (second: number) => new Date(Date.parse(FAULT_AT) + second * 1000).toISOString()

function facts(partial: Partial<DrillFacts>): DrillFacts {
  return {
    state: {
      scenario: 'partial-execution',
      faultAt: FAULT_AT,
      startedAt: FAULT_AT,
      fixedAt: null,
      facts: { runId: 'run_halted' },
    } as unknown as SandboxState,
    audit: [],
    runs: [],
    approvals: [],
    alerts: [],
    halt: { engaged: false, reason: null, by: null, since: null },
    key: { id: 'payments-dek', versions: [] } as unknown as DrillFacts['key'],
    configVersions: [],
    configProposals: [],
    consistency: { passed: true, mismatches: [] },
    ...partial,
  }
}

let seq = 0
const audit = (
  second: number,
  actor: string,
  action: string,
  details: Record<string, unknown> = {},
): AuditRecord => ({
  seq: ++seq,
  at: at(second),
  actor,
  action,
  target: null,
  details,
})

const correction = {
  id: 'run_fc',
  kind: 'forward-correct',
  state: 'succeeded',
  requestedBy: 'drill-operator',
  createdAt: at(10),
  finishedAt: at(20),
} as RunView
const approved = {
  id: 'apr_fc',
  action: 'forward-correct',
  state: 'approved',
  requestedBy: 'drill-operator',
  approvals: [{ by: 'drill-security', role: 'security', at: at(15) }],
} as unknown as ApprovalView

describe('drill scoring of a partial execution', () => {
  it('scores the playbook done in order as recovered, with the time from the fault', () => {
    const report = scoreDrill(
      facts({
        runs: [correction],
        approvals: [approved],
        audit: [
          audit(30, 'drill-operator', 'keys.verified', { purpose: 'verify --all', passed: true }),
          audit(40, 'drill-admin', 'approval.requested', { action: 'halt.release' }),
          audit(50, 'drill-admin2', 'halt.released'),
        ],
      }),
    )
    expect(report.steps.map((s) => s.status)).toEqual(['done', 'done', 'done', 'done', 'done', 'done'])
    expect(report).toMatchObject({ recovered: true, lessons: [], timeToRecoverySeconds: 50 })
  })

  it('tells a trainee who asked for the release before verify --all, and marks the order wrong', () => {
    const report = scoreDrill(
      facts({
        runs: [correction],
        approvals: [approved],
        audit: [
          audit(25, 'drill-admin', 'halt.release_refused', { failing: ['payments-dek'] }),
          audit(26, 'drill-admin', 'approval.requested', { action: 'halt.release' }),
          audit(27, 'drill-admin', 'keys.verified', { purpose: 'halt.release', passed: true }),
          audit(30, 'drill-operator', 'keys.verified', { purpose: 'verify --all', passed: true }),
          audit(50, 'drill-admin2', 'halt.released'),
        ],
      }),
    )
    expect(report.lessons).toEqual([
      expect.stringMatching(/asked to release the halt while verify --all failed \(payments-dek\): refused/),
      expect.stringMatching(/asked to release the halt before running `keyrotor verify --all` themselves/),
    ])
    expect(report.steps.find((s) => s.step === 'request the halt release')?.status).toBe('wrong-order')
    expect(report.recovered).toBe(false)
  })

  it('is not recovered while the halt is engaged or the sandbox is inconsistent', () => {
    const engaged = scoreDrill(facts({ halt: { engaged: true, reason: 'x', by: 'keyrotor', since: at(0) } }))
    expect(engaged.unmet).toEqual(['the global halt is still engaged'])
    expect(engaged.recovered).toBe(false)
    expect(engaged.timeToRecoverySeconds).toBeNull()
  })

  it('ignores what the sandbox itself did: only the trainees count', () => {
    const report = scoreDrill(
      facts({ audit: [audit(30, 'admin', 'keys.verified', { purpose: 'verify --all', passed: true })] }),
    )
    expect(report.steps.find((s) => s.step === 'verify --all passes')?.status).toBe('missing')
  })
})
