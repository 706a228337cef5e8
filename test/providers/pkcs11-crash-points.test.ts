import { createServer, type Server } from 'node:http'
import { afterAll, describe, expect, it } from 'vitest'
import type { KeyView, RunView } from '../../src/engine/views.js'
import { createPkcs11Provider } from '../../src/providers/pkcs11/pkcs11-provider.js'
import { exitOf } from '../helpers/cli.js'
import { REVOKE_CRASH_POINTS, ROTATE_CRASH_POINTS } from '../helpers/crash-point-names.js'
import { keyYaml, planDependent, secretsOf } from '../helpers/sample-dependents.js'
import { call } from '../helpers/http.js'
import { createServerFixture, type ServerFixture, type ServerProcess } from '../helpers/harness.js'
import { createSofthsm, SOFTHSM_MODULE, softhsmAvailable, type Softhsm } from '../helpers/softhsm.js'

const KEY = 'auth-signing'
const TOKEN = { label: 'keyrotor', pin: 'crash-user-pin-5', soPin: 'crash-so-pin-6' }
const REF = { keyId: KEY, algorithm: 'ec-p256' as const }

/**
 * A dependent that holds no material (the key is in the HSM; it verifies with the JWKS): it
 * accepts what was staged, switches on promote and lets go on retire.
 */
function followerDependent(port: number): Promise<Server> {
  let accepts = [1]
  let active = 1
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      response.setHeader('content-type', 'application/json')
      if (request.url?.endsWith('/probe') === true) {
        response.end(JSON.stringify({ key: KEY, accepts, active }))
        return
      }
      const notice = JSON.parse(body) as { event: string; version: number }
      if (notice.event === 'key.version.staged') accepts = [...new Set([...accepts, notice.version])]
      if (notice.event === 'key.version.promoted') active = notice.version
      if (notice.event === 'key.version.retired') accepts = accepts.filter((v) => v !== notice.version)
      response.end('{}')
    })
  })
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)))
}

/**
 * The crash points of the rotate and revoke paths with the key on a SoftHSM2 token, walked once:
 * one rotation and the revoke that follows, during which the server process is SIGKILLed at every
 * point in turn (each restart armed with the next), so every in-doubt phase is settled by reading
 * the token.
 */
describe.skipIf(!softhsmAvailable())(
  'a key on SoftHSM2, its server killed at every crash point of rotate and revoke',
  () => {
    let hsm: Softhsm | undefined
    let fixture: ServerFixture | undefined
    let dependent: Server | undefined
    let server: ServerProcess | undefined
    afterAll(async () => {
      dependent?.close()
      if (server !== undefined && server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill('SIGTERM')
        await exitOf(server.child)
      }
      await fixture?.dispose()
      hsm?.dispose()
    })

    it('ends with one new key pair on the token, promoted, the old one disabled, each phase done once', async () => {
      const path = [...ROTATE_CRASH_POINTS, ...REVOKE_CRASH_POINTS]
      hsm = createSofthsm([TOKEN])
      const dep = await planDependent('auth-api')
      dependent = await followerDependent(dep.port)
      const key = keyYaml({
        id: KEY,
        algorithm: 'ec-p256',
        dependents: [dep],
        policy: '{ gracePeriod: 0s, phaseTimeout: 15s, jwksMaxAge: 1s }',
      })
      const providers = `providers:\n  hsm: { type: pkcs11, module: ${SOFTHSM_MODULE}, tokenLabel: ${TOKEN.label}, pinEnv: HSM_PIN }\n`
      fixture = await createServerFixture(
        'sqlite',
        `${providers}keys:${key.replace('provider: local', 'provider: hsm')}`,
        {
          secrets: {
            ...secretsOf([dep]),
            ...hsm.env,
            HSM_PIN: TOKEN.pin,
          },
        },
      )
      const first = await fixture.start({ env: { KEYROTOR_CRASH_POINT: path[0] as string } })
      server = first
      const admin = fixture.adminToken
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
      expect(runs.find((r) => r.kind === 'rotate')?.id).toBe(rotation.id)
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
        expect(
          events.filter((e) => e.type === 'phase.completed').map((e) => e.phase),
          `${run.kind} phases`,
        ).toEqual(
          run.kind === 'rotate'
            ? ['preflight', 'create', 'distribute', 'promote', 'confirm', 'validate']
            : ['preflight', 'retire', 'revoke'],
        )
      }

      const view = (await call<KeyView>(server.url, admin, 'GET', `/v1/keys/${KEY}`)).body
      expect(view.versions.map((v) => [v.version, v.state, v.providerRef])).toEqual([
        [1, 'disabled', 'auth-signing.v1'],
        [2, 'active', 'auth-signing.v2'],
      ])
      // the token itself, read by this process: one object per version, states and alias as recorded
      process.env.SOFTHSM2_CONF = hsm.conf
      const token = createPkcs11Provider(
        { type: 'pkcs11', module: SOFTHSM_MODULE, tokenLabel: TOKEN.label, pinEnv: 'HSM_PIN' },
        { env: { HSM_PIN: TOKEN.pin } },
      )
      try {
        expect((await token.listVersions(REF)).map((v) => [v.version, v.state])).toEqual([
          [1, 'disabled'],
          [2, 'enabled'],
        ])
        expect(await token.getAlias(REF, `alias/${KEY}`)).toBe(2)
        expect((await token.selfTest(REF, 2)).passed).toBe(true)
      } finally {
        await token.close()
      }
      // 27 restarts of a real server process: minutes on a loaded CI box
    }, 600_000)
  },
)

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
