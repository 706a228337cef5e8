import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CATALOG, SCENARIOS, type ScenarioName } from '../src/drills/catalog.js'
import { isAlive } from '../src/drills/sandbox-state.js'
import type { DrillReport } from '../src/drills/scoring/facts.js'
import { followRunbook, keyrotorIn } from './helpers/runbook-runner.js'

interface Started {
  pid: number
  url: string
  tokens: Record<string, string>
  runbooks: string[]
}

/**
 * Runbooks that cannot rot: each drill is started as a trainee would start it, its runbooks'
 * command blocks are typed literally against the sandbox, and `drill check` must say recovered.
 * One sandbox at a time (each is a real server process); `drill stop` must leave nothing behind.
 */
describe('runbooks, followed literally, recover their drills', () => {
  let cwd = ''
  afterEach(async () => {
    await keyrotorIn(cwd, ['drill', 'stop'])
    rmSync(cwd, { recursive: true, force: true })
  })

  async function startDrill(scenario: string): Promise<Started> {
    cwd = mkdtempSync(join(tmpdir(), 'keyrotor-drill-'))
    const started = await keyrotorIn(cwd, ['drill', 'start', scenario, '--json'])
    expect(started.code, started.stderr).toBe(0)
    return JSON.parse(started.stdout) as Started
  }

  async function check(): Promise<{ code: number; report: DrillReport }> {
    const checked = await keyrotorIn(cwd, ['drill', 'check', '--json'])
    return { code: checked.code, report: JSON.parse(checked.stdout) as DrillReport }
  }

  for (const scenario of SCENARIOS) {
    it(`${scenario}: ${CATALOG[scenario].runbooks.join(' then ')} recovers it`, async () => {
      const drill = await startDrill(scenario)
      expect(drill.runbooks).toEqual(CATALOG[scenario].runbooks)
      const outputs: unknown[] = []
      for (const runbook of drill.runbooks) await followRunbook(runbook, cwd, drill, outputs)

      const { code, report } = await check()
      expect(
        report.steps.filter((s) => s.status !== 'done'),
        JSON.stringify(report, null, 2),
      ).toEqual([])
      expect(report).toMatchObject({ recovered: true, consistent: true, lessons: [] })
      expect(report.timeToRecoverySeconds).toBeGreaterThan(0)
      expect(code).toBe(0)

      const stopped = await keyrotorIn(cwd, ['drill', 'stop'])
      expect(stopped.code, stopped.stderr).toBe(0)
      expect(readdirSync(cwd)).toEqual([])
    }, 150_000)
  }

  it('tells a trainee who retries before verifying, and does not score it recovered', async () => {
    const drill = await startDrill('failed-rotation')
    const env = { KEYROTOR_URL: drill.url, KEYROTOR_TOKEN: drill.tokens.operator }
    const runs = await keyrotorIn(cwd, ['runs', 'list', '--state', 'failed', '--json'], env)
    const [failed] = JSON.parse(runs.stdout) as { id: string }[]
    const retry = await keyrotorIn(cwd, ['runs', 'retry', failed?.id ?? '', '--json'], env)
    expect(retry.code).toBe(1)

    const { code, report } = await check()
    expect(code).toBe(1)
    expect(report.recovered).toBe(false)
    expect(report.lessons).toEqual([expect.stringMatching(/retried run .* before a verify had passed/)])
    expect(report.steps.find((s) => s.step === 'retry the run forward')?.status).toBe('missing')
  }, 60_000)

  it('refuses an unknown scenario and a second sandbox in the same dir with exit 2; stop ends it', async () => {
    const { pid } = await startDrill('emergency')
    const unknown = await keyrotorIn(cwd, ['drill', 'start', 'meltdown'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain(SCENARIOS.join(', '))
    const again = await keyrotorIn(cwd, ['drill', 'start', 'emergency'])
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/already running/)
    expect(existsSync(join(cwd, '.keyrotor-drill', 'sandbox.json'))).toBe(true)
    expect((await keyrotorIn(cwd, ['drill', 'stop'])).code).toBe(0)
    expect(isAlive(pid)).toBe(false)
    expect(readdirSync(cwd)).toEqual([])
    const none = await keyrotorIn(cwd, ['drill', 'check'])
    expect(none.code).toBe(2)
  }, 60_000)

  it('covers every playbook section with a dated runbook whose drill exists', async () => {
    cwd = mkdtempSync(join(tmpdir(), 'keyrotor-drill-'))
    const listed = await keyrotorIn(process.cwd(), ['runbooks', '--json'])
    expect(listed.code, listed.stderr).toBe(0)
    const runbooks = JSON.parse(listed.stdout) as {
      file: string
      scenario: string
      reviewed: string | null
    }[]
    expect(runbooks.map((r) => r.file).sort()).toEqual([
      'access.md',
      'change-management.md',
      'emergency-rotation.md',
      'failure-response.md',
      'halt-release.md',
      'incident-response.md',
      'monitoring-and-alerting.md',
      'partial-execution.md',
      'post-rotation-validation.md',
      'routine-rotation.md',
    ])
    for (const r of runbooks) {
      expect(r.reviewed, r.file).toMatch(/^\d{4}-\d{2}-\d{2}$/)
      expect(CATALOG[r.scenario as ScenarioName]?.runbooks, r.file).toContain(`docs/runbooks/${r.file}`)
    }
  }, 30_000)
})
