import { afterEach, describe, expect, it } from 'vitest'
import { startDataKeyService, type DataKeyService } from '../src/demo/sample-services.js'
import type { KeyView, RunView } from '../src/engine/views.js'
import { exitOf } from './helpers/cli.js'
import { keyYaml, planDependent, secretsOf } from './helpers/sample-dependents.js'
import { approvedEmergency } from './helpers/flows.js'
import { apiOf, call } from './helpers/http.js'
import { createServerFixture, type ServerFixture, type ServerProcess } from './helpers/harness.js'
import {
  EMERGENCY_CRASH_POINTS,
  FORWARD_CORRECT_CRASH_POINTS,
  REVOKE_CRASH_POINTS,
  ROTATE_CRASH_POINTS,
} from './helpers/crash-point-names.js'
import { DIALECTS } from './helpers/stores.js'

const ROTATE_PHASES = ['preflight', 'create', 'distribute', 'promote', 'confirm', 'validate']
const FORWARD_CORRECT_PHASES = ['preflight', 'promote', 'confirm', 'validate']
const REVOKE_PHASES = ['preflight', 'retire', 'revoke']

describe.each(DIALECTS)('a server killed at a crash point and restarted, on %s', (dialect) => {
  let fixture: ServerFixture | undefined
  let service: DataKeyService | undefined
  let server: ServerProcess | undefined
  afterEach(async () => {
    await service?.close()
    if (server !== undefined && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGTERM')
      await exitOf(server.child)
    }
    await fixture?.dispose()
    fixture = service = server = undefined
  })

  /** A store, a server process that kills itself at `point`, and the payments-api dependent. */
  async function boot(point: string, policy: string) {
    const dep = await planDependent('payments-api')
    const yaml = `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: [dep], policy })}`
    const fx = await createServerFixture(dialect, yaml, { secrets: secretsOf([dep]) })
    fixture = fx
    const first = await fx.start({ env: { KEYROTOR_CRASH_POINT: point } })
    server = first
    const admin = fx.adminToken
    const tokenFor = async (user: string, role: string, key?: string) =>
      (
        await call<{ token: string }>(first.url, admin, 'POST', '/v1/tokens', {
          user,
          role,
          ...(key === undefined ? {} : { key }),
        })
      ).body.token
    const svc = await startDataKeyService({
      key: 'payments-dek',
      keyrotorUrl: first.url,
      token: await tokenFor(dep.name, 'consumer', 'payments-dek'),
      secret: dep.secret,
      port: dep.port,
    })
    service = svc
    return { first, admin, tokenFor, service: svc, fixture: fx }
  }

  it.each([...ROTATE_CRASH_POINTS, ...REVOKE_CRASH_POINTS])(
    'loses, duplicates and revokes nothing at %s',
    async (point) => {
      const revokePath = point.startsWith('revoke/')
      const dep = await planDependent('payments-api')
      const policy = `{ gracePeriod: ${revokePath ? '0s' : '1h'}, phaseTimeout: 15s }`
      fixture = await createServerFixture(
        dialect,
        `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: [dep], policy })}`,
        { secrets: secretsOf([dep]) },
      )
      const first = await fixture.start({ env: { KEYROTOR_CRASH_POINT: point } })
      server = first
      const admin = fixture.adminToken
      const token = (
        await call<{ token: string }>(first.url, admin, 'POST', '/v1/tokens', {
          user: dep.name,
          role: 'consumer',
          key: 'payments-dek',
        })
      ).body.token
      service = await startDataKeyService({
        key: 'payments-dek',
        keyrotorUrl: first.url,
        token,
        secret: dep.secret,
        port: dep.port,
      })
      const record = service.encrypt('written under v1')

      const rotation = (
        await call<RunView>(first.url, admin, 'POST', '/v1/keys/payments-dek/rotations', {
          idempotencyKey: 'crash-test',
        })
      ).body
      await expectKilledAt(first, point)

      server = await fixture.start({ port: first.port })
      const kind = revokePath ? 'revoke' : 'rotate'
      const run = await waitForTerminal(server.url, admin, kind)
      const events = (
        await call<{ events: { type: string; phase: string }[] }>(
          server.url,
          admin,
          'GET',
          `/v1/runs/${run.id}/events`,
        )
      ).body.events
      const completed = events.filter((e) => e.type === 'phase.completed').map((e) => e.phase)
      const alerts = (await call<{ type: string; runId: string }[]>(server.url, admin, 'GET', '/v1/alerts'))
        .body

      if (run.state === 'halted') {
        // the only other acceptable end: stopped, preserved, everything halted and someone told
        expect(alerts).toContainEqual(expect.objectContaining({ type: 'partial_execution', runId: run.id }))
      } else {
        expect(run.state).toBe('succeeded')
        expect(completed).toEqual(revokePath ? REVOKE_PHASES : ROTATE_PHASES)
      }
      expect(new Set(completed).size, 'a phase was recorded as completed twice').toBe(completed.length)
      if (!revokePath) expect(run.id).toBe(rotation.id)

      const key = (await call<KeyView>(server.url, admin, 'GET', '/v1/keys/payments-dek')).body
      expect(
        key.versions.map((v) => v.version),
        'extra versions',
      ).toEqual([1, 2])
      if (run.state === 'succeeded') {
        expect(key.versions.map((v) => v.state)).toEqual([revokePath ? 'disabled' : 'retiring', 'active'])
        expect(key.aliases[0]?.version).toBe(2)
      }
      if (revokePath) {
        // revoked only once the dependent had let go of v1
        expect(service.probeAnswer().accepts).not.toContain(1)
      } else {
        expect(key.versions[0]?.state, 'premature revocation').not.toMatch(/disabled|destroyed/)
        expect(service.decrypt(record)).toBe('written under v1')
      }
    },
  )

  it.each(EMERGENCY_CRASH_POINTS)(
    'completes an approved emergency rotation exactly once after a SIGKILL at %s',
    async (point) => {
      const { first, admin, tokenFor, service, fixture } = await boot(
        point,
        '{ gracePeriod: 30d, phaseTimeout: 15s }',
      )
      const record = service.encrypt('written under v1')
      const requester = await tokenFor('sam', 'security')
      const approver = await tokenFor('sue', 'security')
      const requested = await approvedEmergency(apiOf(first.url, admin), {
        key: 'payments-dek',
        reason: 'crash test',
        requester,
        approver,
      })
      await expectKilledAt(first, point)

      server = await fixture.start({ port: first.port })
      const run = await waitForTerminal(server.url, admin, 'emergency-rotate')
      expect(run.id).toBe(requested.id)
      const events = (
        await call<{ events: { type: string; phase: string }[] }>(
          server.url,
          admin,
          'GET',
          `/v1/runs/${run.id}/events`,
        )
      ).body.events
      const completed = events.filter((e) => e.type === 'phase.completed').map((e) => e.phase)
      if (run.state === 'halted') {
        const alerts = (await call<{ type: string; runId: string }[]>(server.url, admin, 'GET', '/v1/alerts'))
          .body
        expect(alerts).toContainEqual(expect.objectContaining({ type: 'partial_execution', runId: run.id }))
      } else {
        expect(run.state).toBe('succeeded')
        expect(completed).toEqual(ROTATE_PHASES)
      }
      expect(new Set(completed).size, 'a phase was recorded as completed twice').toBe(completed.length)
      if (run.state === 'succeeded') {
        // no grace period: the follow-up revoke disables v1, only once the dependent let go of it
        const revoke = await waitForTerminal(server.url, admin, 'revoke')
        expect(revoke.state).toBe('succeeded')
        expect(service.probeAnswer().accepts).not.toContain(1)
      }
      const key = (await call<KeyView>(server.url, admin, 'GET', '/v1/keys/payments-dek')).body
      expect(
        key.versions.map((v) => v.version),
        'extra versions',
      ).toEqual([1, 2])
      if (run.state === 'succeeded') {
        expect(key.versions.map((v) => [v.state, v.compromised])).toEqual([
          ['disabled', true],
          ['active', false],
        ])
      } else {
        expect(service.decrypt(record)).toBe('written under v1')
      }
    },
  )

  it.each(FORWARD_CORRECT_CRASH_POINTS)(
    'finishes the forward correction of a halted key after a SIGKILL at %s',
    async (point) => {
      const { first, admin, tokenFor, service, fixture } = await boot(
        point,
        '{ gracePeriod: 1h, phaseTimeout: 2s }',
      )
      const operator = await tokenFor('olga', 'operator')
      const security = await tokenFor('sam', 'security')

      // a rotation stops in confirm (the service never switches): partial execution, halted
      const original = service.dependent.handleNotice.bind(service.dependent)
      service.dependent.handleNotice = async (body, headers) =>
        (JSON.parse(body) as { event: string }).event === 'key.version.promoted'
          ? { status: 200 }
          : original(body, headers)
      await call(first.url, operator, 'POST', '/v1/keys/payments-dek/rotations', {})
      const halted = await waitForTerminal(first.url, admin, 'rotate')
      expect(halted.state).toBe('halted')
      service.dependent.handleNotice = original

      const fc = (
        await call<RunView>(first.url, operator, 'POST', '/v1/keys/payments-dek/forward-corrections', {
          reason: 'finish v2',
        })
      ).body
      const approvals = (
        await call<{ id: string; action: string }[]>(first.url, admin, 'GET', '/v1/approvals?state=pending')
      ).body
      const approval = approvals.find((a) => a.action === 'forward-correct')
      await call(first.url, security, 'POST', `/v1/approvals/${approval?.id}/approve`, {})
      await expectKilledAt(first, point)

      server = await fixture.start({ port: first.port })
      const run = await waitForTerminal(server.url, admin, 'forward-correct')
      expect(run.id).toBe(fc.id)
      const events = (
        await call<{ events: { type: string; phase: string }[] }>(
          server.url,
          admin,
          'GET',
          `/v1/runs/${run.id}/events`,
        )
      ).body.events
      const completed = events.filter((e) => e.type === 'phase.completed').map((e) => e.phase)
      expect(run.state).toBe('succeeded')
      expect(completed).toEqual(FORWARD_CORRECT_PHASES)
      const key = (await call<KeyView>(server.url, admin, 'GET', '/v1/keys/payments-dek')).body
      expect(key.versions.map((v) => [v.version, v.state])).toEqual([
        [1, 'retiring'],
        [2, 'active'],
      ])
      expect(key.aliases[0]?.version).toBe(2)
      expect(service.probeAnswer()).toMatchObject({ active: 2 })
    },
  )
})

async function waitForTerminal(url: string, token: string, kind: string): Promise<RunView> {
  const until = Date.now() + 45_000
  for (;;) {
    const runs = (await call<RunView[]>(url, token, 'GET', '/v1/runs?key=payments-dek')).body
    const run = runs.find((r) => r.kind === kind)
    if (run !== undefined && ['succeeded', 'failed', 'halted', 'cancelled'].includes(run.state)) return run
    if (Date.now() > until) throw new Error(`no terminal ${kind} run: ${JSON.stringify(runs)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function expectKilledAt(process: ServerProcess, point: string): Promise<void> {
  const killed = await Promise.race([
    exitOf(process.child).then(() => process.child.signalCode),
    new Promise((resolve) => setTimeout(() => resolve('still running'), 30_000)),
  ])
  expect(killed, `the server was not killed at ${point}`).toBe('SIGKILL')
}
