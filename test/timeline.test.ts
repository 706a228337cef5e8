import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startDataKeyService, type DataKeyService } from '../src/demo/sample-services.js'
import type { RunView } from '../src/engine/views.js'
import type { Timeline, TimelineEvent } from '../src/observability/timeline.js'
import { runCliProcess } from './helpers/cli.js'
import { startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { keyYaml, planDependent, secretsOf } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

const KEY = 'payments-dek'
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

/** The lines a server logs, captured as its log destination. */
function captureLogs() {
  const lines: string[] = []
  return {
    destination: { write: (line: string) => void lines.push(line) },
    parsed: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  }
}

describe.each(DIALECTS)('timeline reconstruction on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function setup(options: Parameters<typeof startHarness>[2] = {}) {
    const dep = await planDependent('payments-api')
    const yaml = `keys:${keyYaml({ id: KEY, algorithm: 'aes-256-gcm', dependents: [dep], policy: '{ gracePeriod: 1h, phaseTimeout: 1s }' })}`
    const secrets = secretsOf([dep])
    const h = await startHarness(dialect, yaml, { secrets, ...options })
    cleanups.push(() => h.stop())
    const { token } = (
      await h.api<{ token: string }>('POST', '/v1/tokens', { user: dep.name, role: 'consumer', key: KEY })
    ).body
    const service = await startDataKeyService({
      key: KEY,
      keyrotorUrl: h.url,
      token,
      secret: dep.secret,
      port: dep.port,
      name: dep.name,
    })
    cleanups.push(() => service.close())
    return { h, service, secrets }
  }

  /** A rotation that fails in distribute (the service refuses notices), then is verified and retried. */
  async function failVerifyRetry(
    h: Harness,
    service: DataKeyService,
    between?: (run: RunView) => Promise<void>,
  ) {
    const original = service.dependent.handleNotice.bind(service.dependent)
    service.dependent.handleNotice = async () => ({ status: 503 })
    const created = await h.api<RunView>('POST', `/v1/keys/${KEY}/rotations`, { reason: 'quarterly' })
    const failed = await waitForRun<RunView>(h, created.body.id)
    expect(failed).toMatchObject({ state: 'failed', failure: { phase: 'distribute' } })
    await between?.(failed)
    service.dependent.handleNotice = original
    expect((await h.api<{ passed: boolean }>('POST', `/v1/runs/${failed.id}/verify`)).body.passed).toBe(true)
    expect((await h.api('POST', `/v1/runs/${failed.id}/retry`)).status).toBe(200)
    expect(await waitForRun<RunView>(h, failed.id)).toMatchObject({ state: 'succeeded' })
    return failed
  }

  const indexOf = (events: TimelineEvent[], match: Partial<TimelineEvent>) =>
    events.findIndex((e) => Object.entries(match).every(([k, v]) => e[k as keyof TimelineEvent] === v))

  it('tells a failed, verified and retried run in order: trigger, phases, failure, alert, verify, retry, success', async () => {
    const logs = captureLogs()
    const { h, service } = await setup({ logLevel: 'info', logDestination: logs.destination })
    let markdownWhileFailed = ''
    const run = await failVerifyRetry(h, service, async (failed) => {
      const md = await fetch(`${h.url}/v1/timeline/${failed.correlationId}?format=md`, {
        headers: { authorization: `Bearer ${h.adminToken}` },
      })
      expect(md.headers.get('content-type'), await md.clone().text()).toMatch(/^text\/markdown/)
      markdownWhileFailed = await md.text()
    })

    const { status, body } = await h.api<Timeline>('GET', `/v1/timeline/${run.correlationId}`)
    expect(status).toBe(200)
    const { events } = body
    expect(body.correlationId).toBe(run.correlationId)
    expect(events.map((e) => e.at)).toEqual([...events.map((e) => e.at)].sort())
    const order = [
      indexOf(events, { source: 'audit', type: 'rotate.requested', actor: 'admin' }),
      indexOf(events, { source: 'phase', type: 'phase.started', phase: 'preflight', actor: 'keyrotor' }),
      indexOf(events, { source: 'phase', type: 'phase.failed', phase: 'distribute' }),
      indexOf(events, { source: 'alert', type: 'alert.raised' }),
      indexOf(events, { source: 'audit', type: 'run.verified', actor: 'admin' }),
      indexOf(events, { source: 'audit', type: 'run.retried', actor: 'admin' }),
      indexOf(events, { source: 'phase', type: 'phase.completed', phase: 'validate' }),
      indexOf(events, { source: 'run', type: 'run.succeeded' }),
    ]
    expect(
      order.every((i) => i >= 0),
      JSON.stringify(order),
    ).toBe(true)
    expect(order).toEqual([...order].sort((a, b) => a - b))
    const sources = new Set(events.map((e) => e.source))
    for (const source of ['run', 'phase', 'notice', 'probe', 'alert', 'audit', 'log'] as const) {
      expect(sources, source).toContain(source)
    }
    // the alert was resolved by the successful retry; the failure's log line is in the story
    expect(events).toContainEqual(expect.objectContaining({ source: 'alert', type: 'alert.resolved' }))
    expect(events).toContainEqual(
      expect.objectContaining({ source: 'log', type: 'log.error', runId: run.id, phase: 'distribute' }),
    )
    // the engine's own log lines are the engine's doing, not the requester's (docs/timeline.md)
    const engineLines = events.filter((e) => e.source === 'log' && e.runId === run.id)
    expect(engineLines.length).toBeGreaterThan(0)
    for (const line of engineLines) expect(line.actor).toBe('keyrotor')
    expect(body.nextSteps.join(' ')).not.toMatch(/retry/)

    expect(markdownWhileFailed).toContain(`# Timeline ${run.correlationId}`)
    expect(markdownWhileFailed).toContain('| time (UTC) | source | event | actor | message |')
    expect(markdownWhileFailed).toMatch(/\| outcome \| failed in distribute/)
    expect(markdownWhileFailed).toContain('## Who did what')
    expect(markdownWhileFailed).toMatch(/^- \*\*admin\*\*: .*rotate\.requested/m)
    expect(markdownWhileFailed).toContain('## What to do next')
    expect(markdownWhileFailed).toContain('docs/runbooks/failure-response.md')
    expect(markdownWhileFailed).toContain(`keyrotor runs verify ${run.id}`)
  })

  it('logs every engine line about a run with its correlation id, run, key and phase, in UTC', async () => {
    const logs = captureLogs()
    const { h, service } = await setup({ logLevel: 'info', logDestination: logs.destination })
    const run = await failVerifyRetry(h, service)
    const engine = logs.parsed().filter((l) => l.component === 'engine' && l.runId === run.id)
    expect(engine.map((l) => l.msg)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^run failed/), 'run succeeded']),
    )
    for (const line of engine) {
      expect(line).toMatchObject({
        correlationId: run.correlationId,
        runId: run.id,
        key: KEY,
        actor: 'keyrotor',
        requestedBy: 'admin',
      })
      expect(line.time).toMatch(ISO_UTC)
    }
    expect(engine.find((l) => l.level === 'error')).toMatchObject({ phase: 'distribute' })
  })

  it("writes --log-file and reads an earlier process's lines back from it", async () => {
    const logDir = mkdtempSync(join(tmpdir(), 'keyrotor-logs-'))
    cleanups.push(async () => rmSync(logDir, { recursive: true, force: true }))
    const logFile = join(logDir, 'nested', 'keyrotor.log')
    const { h, service, secrets } = await setup({ logLevel: 'info', logFile })
    const run = await failVerifyRetry(h, service)
    const written = readFileSync(logFile, 'utf8').trim().split('\n')
    const lines = written.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines).toContainEqual(
      expect.objectContaining({ correlationId: run.correlationId, msg: 'run succeeded' }),
    )

    // a new process on the same store and log file: the run's lines are only in the file now
    await h.restart({
      port: Number(new URL(h.url).port),
      logLevel: 'info',
      logFile,
      secretOf: (name) => secrets[name],
    })
    const { body } = await h.api<Timeline>('GET', `/v1/timeline/${run.correlationId}`)
    expect(body.events).toContainEqual(
      expect.objectContaining({ source: 'log', message: 'run succeeded', runId: run.id }),
    )
  })

  it('tells a partial execution with its incident, the approved forward correction and the halt release', async () => {
    const { h, service } = await setup()
    const person = async (user: string, role: string) =>
      (await h.api<{ token: string }>('POST', '/v1/tokens', { user, role })).body.token
    const [olga, sam, sue, bob] = [
      await person('olga', 'operator'),
      await person('sam', 'security'),
      await person('sue', 'security'),
      await person('bob', 'admin'),
    ]
    // the service takes the promotion notice but never switches: confirm runs out of time
    const original = service.dependent.handleNotice.bind(service.dependent)
    service.dependent.handleNotice = async (body, headers) =>
      (JSON.parse(body) as { event: string }).event === 'key.version.promoted'
        ? { status: 200 }
        : original(body, headers)
    const created = await h.api<RunView>('POST', `/v1/keys/${KEY}/rotations`, {}, olga)
    const stopped = await waitForRun<RunView>(h, created.body.id)
    expect(stopped.state).toBe('halted')
    const halted = (await h.api<Timeline>('GET', `/v1/timeline/${stopped.correlationId}`)).body
    expect(halted.nextSteps.join(' ')).toContain('docs/runbooks/partial-execution.md')

    service.dependent.handleNotice = original
    const fc = (
      await h.api<RunView>('POST', `/v1/keys/${KEY}/forward-corrections`, { reason: 'finish v2' }, olga)
    ).body
    const approvals = (await h.api<{ id: string; action: string }[]>('GET', '/v1/approvals?state=pending'))
      .body
    const fcApproval = approvals.find((a) => a.action === 'forward-correct')
    expect((await h.api('POST', `/v1/approvals/${fcApproval?.id}/approve`, {}, sam)).status).toBe(200)
    expect(await waitForRun<RunView>(h, fc.id)).toMatchObject({ state: 'succeeded' })
    const release = (await h.api<{ id: string }>('POST', '/v1/halt/release', { reason: 'corrected' })).body
    expect((await h.api('POST', `/v1/approvals/${release.id}/approve`, {}, sue)).status).toBe(200)
    expect((await h.api('POST', `/v1/approvals/${release.id}/approve`, {}, bob)).status).toBe(200)

    const { body } = await h.api<Timeline>('GET', `/v1/timeline/${stopped.correlationId}`)
    const { events } = body
    const order = [
      indexOf(events, { source: 'phase', type: 'phase.failed', phase: 'confirm' }),
      indexOf(events, { source: 'run', type: 'run.halted' }),
      indexOf(events, { source: 'incident', type: 'incident.opened' }),
      indexOf(events, { source: 'approval', type: 'approval.requested', actor: 'olga' }),
      indexOf(events, { source: 'approval', type: 'approval.approved', actor: 'sam' }),
      indexOf(events, { source: 'run', type: 'run.succeeded', runId: fc.id }),
      indexOf(events, { source: 'approval', type: 'approval.approved', actor: 'sue' }),
      indexOf(events, { source: 'approval', type: 'approval.approved', actor: 'bob' }),
      indexOf(events, { source: 'audit', type: 'halt.released' }),
    ]
    expect(
      order.every((i) => i >= 0),
      JSON.stringify(order),
    ).toBe(true)
    expect(order).toEqual([...order].sort((a, b) => a - b))
    expect(events).toContainEqual(
      expect.objectContaining({
        source: 'alert',
        data: expect.objectContaining({ alertType: 'partial_execution' }),
      }),
    )
    // the forward correction is its own run under its own correlation id, linked to this story
    expect(body.runs).toContainEqual(
      expect.objectContaining({ id: fc.id, kind: 'forward-correct', linked: true }),
    )
    expect(events.find((e) => e.runId === fc.id)?.correlationId).toBe(fc.correlationId)
    const [incident] = body.incidents
    expect(body.nextSteps).toEqual([
      expect.stringContaining(`keyrotor incidents close ${incident?.id} --rca FILE`),
    ])
  })

  it('answers 404 NOT_FOUND for a correlation id nothing was recorded under', async () => {
    const { h } = await setup()
    const { status, body } = await h.api<{ code: string }>('GET', '/v1/timeline/no-such-correlation-id')
    expect(status).toBe(404)
    expect(body.code).toBe('NOT_FOUND')
  })

  it('prints the Markdown from the built CLI: keyrotor timeline CID --format md', async () => {
    const { h, service } = await setup()
    const run = await failVerifyRetry(h, service)
    const { code, stdout, stderr } = await runCliProcess(['timeline', run.correlationId, '--format', 'md'], {
      KEYROTOR_URL: h.url,
      KEYROTOR_TOKEN: h.adminToken,
    })
    expect(code, stderr).toBe(0)
    expect(stdout).toContain(`# Timeline ${run.correlationId}`)
    expect(stdout).toContain('| time (UTC) | source | event | actor | message |')
    expect(stdout).toMatch(/\| .* \| audit \| run\.retried \| admin \|/)
    expect(stdout).toContain('## What to do next')
  })
})
