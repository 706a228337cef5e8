import { afterAll, describe, expect, it } from 'vitest'
import { startDataKeyService, type DataKeyService } from '../../src/demo/sample-services.js'
import type { KeyView, RunView } from '../../src/engine/views.js'
import { createExecProvider } from '../../src/providers/exec/exec-provider.js'
import { exitOf } from '../helpers/cli.js'
import { REVOKE_CRASH_POINTS, ROTATE_CRASH_POINTS } from '../helpers/crash-point-names.js'
import { keyYaml, planDependent, secretsOf } from '../helpers/sample-dependents.js'
import { call } from '../helpers/http.js'
import { createServerFixture, type ServerFixture, type ServerProcess } from '../helpers/harness.js'
import { createFileHookBackend, type FileHookBackend } from './file-hook.js'

const KEY = 'orders-dek'

/**
 * The crash points of the rotate and revoke paths with the key behind an exec hook, walked once:
 * one rotation (and the revoke that follows it) during which the server is SIGKILLed at every
 * point in turn, each restart armed with the next point. Every provider call is a hook process,
 * so the hook's backend is what the in-doubt phases are settled against.
 */
describe('a key behind an exec hook, its server killed at every crash point of rotate and revoke', () => {
  let backend: FileHookBackend | undefined
  let fixture: ServerFixture | undefined
  let service: DataKeyService | undefined
  let server: ServerProcess | undefined
  afterAll(async () => {
    await service?.close()
    if (server !== undefined && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGTERM')
      await exitOf(server.child)
    }
    await fixture?.dispose()
    backend?.dispose()
  })

  it('ends with one new version, promoted, and the old one disabled at the hook, each phase done once', async () => {
    const path = [...ROTATE_CRASH_POINTS, ...REVOKE_CRASH_POINTS]
    backend = createFileHookBackend()
    const dep = await planDependent('orders-api')
    const key = keyYaml({
      id: KEY,
      algorithm: 'aes-256-gcm',
      dependents: [dep],
      policy: '{ gracePeriod: 0s, phaseTimeout: 15s }',
    })
    const yaml = `providers:\n${backend.yaml('hook')}\nkeys:${key.replace('provider: local', 'provider: hook')}`
    fixture = await createServerFixture('sqlite', yaml, { secrets: secretsOf([dep]) })
    const first = await fixture.start({ env: { KEYROTOR_CRASH_POINT: path[0] as string } })
    server = first
    const admin = fixture.adminToken
    const token = (
      await call<{ token: string }>(first.url, admin, 'POST', '/v1/tokens', {
        user: dep.name,
        role: 'consumer',
        key: KEY,
      })
    ).body.token
    service = await startDataKeyService({
      key: KEY,
      keyrotorUrl: first.url,
      token,
      secret: dep.secret,
      port: dep.port,
    })
    // the raw notice bodies the service receives: each must name the version's providerRef
    const notices: { event: string; version: number; providerRef?: string }[] = []
    const handle = service.dependent.handleNotice.bind(service.dependent)
    service.dependent.handleNotice = async (body, headers) => {
      notices.push(JSON.parse(body) as (typeof notices)[number])
      return handle(body, headers)
    }
    const rotation = (await call<RunView>(first.url, admin, 'POST', `/v1/keys/${KEY}/rotations`, {})).body

    for (const [i, point] of path.entries()) {
      const killed = await Promise.race([
        exitOf(server.child).then(() => server?.child.signalCode),
        new Promise((resolve) => setTimeout(() => resolve('still running'), 30_000)),
      ])
      expect(killed, `the server was not killed at ${point}`).toBe('SIGKILL')
      const next = path[i + 1]
      server = await fixture.start({
        port: first.port,
        env: next === undefined ? {} : { KEYROTOR_CRASH_POINT: next },
      })
    }

    const runs = await waitForRevoke(server.url, admin)
    const rotate = runs.find((r) => r.kind === 'rotate')
    expect(rotate?.id).toBe(rotation.id)
    for (const run of runs) {
      expect(run.state, `${run.kind} run`).toBe('succeeded')
      const events = (
        await call<{ events: { type: string; phase: string }[] }>(
          server.url,
          admin,
          'GET',
          `/v1/runs/${run.id}/events`,
        )
      ).body.events
      const completed = events.filter((e) => e.type === 'phase.completed').map((e) => e.phase)
      expect(completed, `${run.kind} phases`).toEqual(
        run.kind === 'rotate'
          ? ['preflight', 'create', 'distribute', 'promote', 'confirm', 'validate']
          : ['preflight', 'retire', 'revoke'],
      )
    }

    const view = (await call<KeyView>(server.url, admin, 'GET', `/v1/keys/${KEY}`)).body
    const hook = createExecProvider(backend.settings, { env: process.env })
    const ref = { keyId: KEY, algorithm: 'aes-256-gcm' as const }
    const atHook = await hook.listVersions(ref)
    expect(atHook.map((v) => [v.version, v.state])).toEqual([
      [1, 'disabled'],
      [2, 'enabled'],
    ])
    expect(view.versions.map((v) => [v.version, v.state, v.providerRef])).toEqual([
      [1, 'disabled', 'file-hook:orders-dek.v1'],
      [2, 'active', 'file-hook:orders-dek.v2'],
    ])
    expect(await hook.getAlias(ref, `alias/${KEY}`)).toBe(2)
    for (const event of [
      'key.version.staged',
      'key.version.promoted',
      'key.version.retired',
      'key.version.revoked',
    ]) {
      expect(notices.map((n) => n.event)).toContain(event)
    }
    for (const notice of notices) expect(notice.providerRef).toBe(`file-hook:orders-dek.v${notice.version}`)
    expect(service.probeAnswer()).toMatchObject({ active: 2 })
    expect(service.probeAnswer().accepts).not.toContain(1)
    // 27 restarts of a real server process: minutes on a loaded CI box
  }, 600_000)
})

async function waitForRevoke(url: string, token: string): Promise<RunView[]> {
  for (let i = 0; ; i++) {
    const runs = (await call<RunView[]>(url, token, 'GET', `/v1/runs?key=${KEY}`)).body
    const revoke = runs.find((r) => r.kind === 'revoke')
    if (revoke !== undefined && ['succeeded', 'failed', 'halted', 'cancelled'].includes(revoke.state))
      return runs
    if (i > 450) throw new Error(`no terminal revoke run: ${JSON.stringify(runs)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
