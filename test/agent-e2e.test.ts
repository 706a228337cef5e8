import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../src/demo/free-port.js'
import { startJwtIssuer, type JwtIssuer } from '../src/demo/sample-services.js'
import type { KeyView, RunView } from '../src/engine/views.js'
import { exitOf, spawnCli, waitForLine } from './helpers/cli.js'
import { startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { startLineProcess, type LineProcess } from './helpers/line-process.js'
import { keyYaml, planDependent, secretsOf, type PlannedDependent } from './helpers/sample-dependents.js'

const PYTHON = '/usr/bin/python3'

// Runs on SQLite only: the agent speaks HTTP to keyrotor and files to the service, never to the
// store; the store-facing parts it relies on (material, JWKS, promote wait) run on both dialects
// in test/agent.test.ts and test/jwks-caches.test.ts.
describe('a Python service rotated through the keyrotor agent', () => {
  let h: Harness
  let root: string
  let agentPort: number
  let agentEnv: Record<string, string>
  let agentConfig: string
  let agent: ChildProcess
  let agentOut = ''
  let hmacService: ChildProcess
  let hmacUrl: string
  let issuer: JwtIssuer
  let pyjwt: LineProcess

  function startAgentProcess(): Promise<string> {
    agent = spawnCli(['agent', '--config', agentConfig], agentEnv)
    agent.stdout?.on('data', (chunk: Buffer) => (agentOut += chunk.toString()))
    agent.stderr?.on('data', (chunk: Buffer) => (agentOut += chunk.toString()))
    return waitForLine(agent, /keyrotor agent listening/)
  }

  const probe = async (key: string) =>
    (await fetch(`http://127.0.0.1:${agentPort}/keyrotor/probe?key=${key}`)).json()

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'keyrotor-agent-e2e-'))
    agentPort = await freePort()
    const secret = randomBytes(24).toString('base64url')
    const agentDep = (key: string): PlannedDependent => ({
      name: 'py-agent',
      port: agentPort,
      secretEnv: 'AGENT_SECRET',
      secret,
      probeUrl: `http://127.0.0.1:${agentPort}/keyrotor/probe?key=${key}`,
      notifyUrl: `http://127.0.0.1:${agentPort}/keyrotor/notify`,
    })
    const issuerDep = await planDependent('jwt-issuer')
    const policy = '{ gracePeriod: 1s, phaseTimeout: 8s, jwksMaxAge: 1s }'
    h = await startHarness(
      'sqlite',
      `keys:${keyYaml({ id: 'py-hmac', algorithm: 'hmac-sha256', dependents: [agentDep('py-hmac')], policy })}${keyYaml({ id: 'py-jwt', algorithm: 'ec-p256', dependents: [issuerDep, agentDep('py-jwt')], policy })}`,
      { secrets: { ...secretsOf([issuerDep]), AGENT_SECRET: secret } },
    )
    const token = async (user: string, key: string) =>
      (await h.api<{ token: string }>('POST', '/v1/tokens', { user, role: 'consumer', key })).body.token

    // the Python service starts first, with no key yet; the agent hands it v1
    const hmacDir = join(root, 'hmac-keys')
    mkdirSync(hmacDir, { mode: 0o700 })
    const hmacPort = await freePort()
    hmacUrl = `http://127.0.0.1:${hmacPort}`
    hmacService = spawn(PYTHON, ['test/python/hmac_service.py', hmacDir, 'py-hmac', String(hmacPort)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    await waitForLine(hmacService, /listening/)

    agentConfig = join(root, 'agent.yaml')
    writeFileSync(
      agentConfig,
      `keyrotor: { url: "${h.url}" }
listen: "127.0.0.1:${agentPort}"
secretEnv: AGENT_SECRET
timeout: 10s
keys:
  - key: py-hmac
    role: sign
    tokenEnv: HMAC_TOKEN
    output: { dir: ${hmacDir}, format: raw }
    reload: ["kill", "-HUP", "${hmacService.pid}"]
    healthCheck: ["${PYTHON}", "test/python/health_check.py", "${hmacUrl}/health"]
    initialVersion: 1
  - key: py-jwt
    role: verify
    output: { dir: ${join(root, 'jwt-keys')}, format: pem }
    reload: ["true"]
    initialVersion: 1
`,
    )
    agentEnv = { AGENT_SECRET: secret, HMAC_TOKEN: await token('py-hmac-svc', 'py-hmac') }
    await startAgentProcess()

    issuer = await startJwtIssuer({
      key: 'py-jwt',
      keyrotorUrl: h.url,
      token: await token('jwt-issuer', 'py-jwt'),
      secret: issuerDep.secret,
      port: issuerDep.port,
      name: 'jwt-issuer',
    })
    pyjwt = startLineProcess(PYTHON, ['test/python/pyjwt_verifier.py', `${h.url}/v1/keys/py-jwt/jwks.json`])
  }, 60_000)

  afterAll(async () => {
    await pyjwt?.stop()
    await issuer?.close()
    agent?.kill('SIGKILL')
    hmacService?.kill('SIGKILL')
    await h?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  it('signs and verifies with 0 failures through two rotations and the revokes of both keys', async () => {
    const failures: string[] = []
    const kids = new Set<string>()
    let running = true
    let count = 0
    const traffic = (async () => {
      while (running) {
        count++
        const signed = await fetch(`${hmacUrl}/sign?sub=u${count}`)
        const jwt = await signed.text()
        if (signed.status !== 200) failures.push(`python sign: ${signed.status} ${jwt}`)
        else {
          kids.add(JSON.parse(Buffer.from(jwt.split('.')[0] as string, 'base64url').toString()).kid)
          const verified = await fetch(`${hmacUrl}/verify?token=${jwt}`)
          if (verified.status !== 200) failures.push(`python verify: ${await verified.text()}`)
        }
        const token = await issuer.issue({ sub: `u${count}` })
        const answer = await pyjwt.ask(token)
        if (!answer.startsWith('ok')) failures.push(`PyJWT: ${answer}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })()
    for (const expected of [2, 3]) {
      const runs = await Promise.all(
        ['py-hmac', 'py-jwt'].map(async (key) => waitForRun<RunView>(h, await rotate(h, key), 60_000)),
      )
      for (const run of runs) expect(run).toMatchObject({ state: 'succeeded', toVersion: expected })
    }
    await until(async () => {
      const { body } = await h.api<RunView[]>('GET', '/v1/runs')
      return body.filter((r) => r.kind === 'revoke' && r.state === 'succeeded').length === 4
    }, 60_000)
    running = false
    await traffic
    expect(failures).toEqual([])
    expect([...kids].sort()).toEqual(['py-hmac.v1', 'py-hmac.v2', 'py-hmac.v3'])
    expect(count).toBeGreaterThan(20)

    // the revoked versions' files are gone; what is left is 0600 and current points at v3
    const hmacDir = join(root, 'hmac-keys')
    expect(
      readdirSync(hmacDir)
        .filter((f) => !f.startsWith('.'))
        .sort(),
    ).toEqual(['current', 'v3.key'])
    expect(readlinkSync(join(hmacDir, 'current'))).toBe('v3.key')
    expect(statSync(join(hmacDir, 'v3.key')).mode & 0o777).toBe(0o600)
    expect(await probe('py-hmac')).toEqual({ key: 'py-hmac', accepts: [3], active: 3 })
    expect(await probe('py-jwt')).toEqual({ key: 'py-jwt', accepts: [3], active: null })
  }, 240_000)

  it('comes back from kill -9 with the same answers', async () => {
    const before = [await probe('py-hmac'), await probe('py-jwt')]
    agent.kill('SIGKILL')
    await exitOf(agent)
    await startAgentProcess()
    expect([await probe('py-hmac'), await probe('py-jwt')]).toEqual(before)
  }, 60_000)

  it('does not count a version whose health check fails: the run fails before promote, the alias stays', async () => {
    writeFileSync(join(root, 'broken'), '')
    const run = await waitForRun<RunView>(h, await rotate(h, 'py-hmac'), 60_000)
    expect(run).toMatchObject({ state: 'failed', failure: { phase: 'distribute' } })
    const key = (await h.api<KeyView>('GET', '/v1/keys/py-hmac')).body
    expect(key.aliases).toEqual([{ name: 'alias/py-hmac', version: 3 }])
    expect(key.activeVersion).toBe(3)
    expect(await probe('py-hmac')).toEqual({ key: 'py-hmac', accepts: [3], active: 3 })
    // the failure is in the agent's log under the run's correlation id
    const failed = agentOut
      .split('\n')
      .filter((line) => line.includes('notice not applied'))
      .map((line) => JSON.parse(line) as { correlationId?: string; err?: string })
    expect(failed.some((l) => l.correlationId === run.correlationId && /healthCheck/.test(l.err ?? ''))).toBe(
      true,
    )
  }, 90_000)
})

/** Starts a rotation once the key is free (the revoke of the previous rotation may still run). */
async function rotate(h: Harness, key: string): Promise<string> {
  for (;;) {
    const created = await h.api<RunView & { code?: string }>('POST', `/v1/keys/${key}/rotations`, {})
    if (created.status === 201) return created.body.id
    if (created.body.code !== 'CONCURRENT_ROTATION')
      throw new Error(`rotate ${key}: ${JSON.stringify(created.body)}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
