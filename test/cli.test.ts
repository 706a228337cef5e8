import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDataKeyService } from '../src/demo/sample-services.js'
import { freePort } from '../src/demo/free-port.js'
import { exitOf, runCliProcess, spawnCli, waitForLine } from './helpers/cli.js'
import { startHarness, type Harness } from './helpers/harness.js'
import { keyYaml, planDependent, secretsOf } from './helpers/sample-dependents.js'

/** The CLI as users and schedulers run it: the built binary, as a subprocess, against a real server. */
describe('the keyrotor CLI against a real server', () => {
  let h: Harness
  let env: Record<string, string>
  const cleanups: (() => Promise<void>)[] = []

  beforeAll(async () => {
    const healthy = await planDependent('payments-api')
    const missing = await planDependent('gone-api')
    const config = `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: [healthy] })}${keyYaml({ id: 'orphan-dek', algorithm: 'aes-256-gcm', dependents: [missing] })}`
    h = await startHarness('sqlite', config, { secrets: secretsOf([healthy, missing]) })
    cleanups.push(() => h.stop())
    const token = (
      await h.api<{ token: string }>('POST', '/v1/tokens', {
        user: 'svc',
        role: 'consumer',
        key: 'payments-dek',
      })
    ).body.token
    const service = await startDataKeyService({
      key: 'payments-dek',
      keyrotorUrl: h.url,
      token,
      secret: healthy.secret,
      port: healthy.port,
    })
    cleanups.push(() => service.close())
    env = { KEYROTOR_URL: h.url, KEYROTOR_TOKEN: h.adminToken }
  })
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c()
  })

  it('lists keys as exactly one JSON document', async () => {
    const result = await runCliProcess(['keys', 'list', '--json'], env)
    expect(result.code).toBe(0)
    const keys = JSON.parse(result.stdout) as { id: string }[]
    expect(keys.map((k) => k.id)).toEqual(['orphan-dek', 'payments-dek'])
  })

  it('rotates with --wait, printing each phase and the scheduler result line, exit 0', async () => {
    const result = await runCliProcess(
      ['rotate', 'payments-dek', '--wait', '--idempotency-key', 'ctm-1', '--attempt', '1'],
      env,
    )
    expect(result.code).toBe(0)
    for (const phase of ['preflight', 'create', 'distribute', 'promote', 'confirm', 'validate']) {
      expect(result.stdout).toContain(phase)
    }
    const lines = result.stdout.trim().split('\n')
    expect(lines.at(-1)).toMatch(/^KEYROTOR-RESULT=SUCCEEDED run=run_\w+ exit=0$/)
  })

  it('attaches a rerun with the same idempotency key to the same run', async () => {
    const rerun = await runCliProcess(
      ['rotate', 'payments-dek', '--wait', '--idempotency-key', 'ctm-1', '--attempt', '2', '--json'],
      env,
    )
    expect(rerun.code).toBe(0)
    const run = JSON.parse(rerun.stdout) as { duplicateCount: number; toVersion: number }
    expect(run).toMatchObject({ duplicateCount: 1, toVersion: 2 })
  })

  it('exits 3 when pre-flight refuses (a dependent is unreachable) and the key is untouched', async () => {
    const result = await runCliProcess(['rotate', 'orphan-dek', '--wait'], env)
    expect(result.code).toBe(3)
    expect(result.stdout).toContain('preflight_rejected')
    expect(result.stdout.trim().split('\n').at(-1)).toMatch(/^KEYROTOR-RESULT=FAILED run=\S+ exit=3$/)
    const shown = JSON.parse((await runCliProcess(['keys', 'show', 'orphan-dek', '--json'], env)).stdout) as {
      aliases: { version: number }[]
    }
    expect(shown.aliases[0]?.version).toBe(1)
  })

  it('exits 2 naming an unknown key', async () => {
    const result = await runCliProcess(['keys', 'show', 'no-such-key'], env)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('no-such-key')
  })

  it('exits 7 for a role that may not rotate', async () => {
    const viewer = (await h.api<{ token: string }>('POST', '/v1/tokens', { user: 'vic', role: 'viewer' }))
      .body.token
    const result = await runCliProcess(['rotate', 'payments-dek'], { ...env, KEYROTOR_TOKEN: viewer })
    expect(result.code).toBe(7)
    expect(result.stderr).toContain('viewer')
  })

  it('exits 8 when the server cannot be reached', async () => {
    const port = await freePort()
    const result = await runCliProcess(['keys', 'list'], { ...env, KEYROTOR_URL: `http://127.0.0.1:${port}` })
    expect(result.code).toBe(8)
    expect(result.stderr).toContain(`127.0.0.1:${port}`)
  })

  it('exits 2 for a malformed config file, naming the path of the problem', async () => {
    const file = join(h.dataDir, 'bad.yaml')
    writeFileSync(
      file,
      'keys:\n  - id: k1\n    provider: local\n    algorithm: aes-256-gcm\n    owner: x\n    policy: { gracePeriod: soon }\n',
    )
    const result = await runCliProcess(['config', 'validate', file], env)
    expect(result.code).toBe(2)
    expect(result.stderr + result.stdout).toContain('keys[0].policy.gracePeriod')
  })

  it('creates a consumer token bound to a key and prints it once as JSON', async () => {
    const result = await runCliProcess(
      ['tokens', 'create', '--user', 'svc2', '--role', 'consumer', '--key', 'payments-dek', '--json'],
      env,
    )
    expect(result.code).toBe(0)
    const created = JSON.parse(result.stdout) as { token: string; id: string }
    expect(created.token).toMatch(/^kr_[A-Za-z0-9_-]{43,}$/)
    const list = await runCliProcess(['tokens', 'list', '--json'], env)
    expect(list.stdout).toContain(created.id)
    expect(list.stdout).not.toContain(created.token)
  })
})

describe('keyrotor init and server as processes', () => {
  it('initialises a data dir with 0600 files, prints the admin token once, and serves until SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'keyrotor-cli-'))
    try {
      const init = await runCliProcess(['init', '--data-dir', dataDir, '--json'])
      expect(init.code).toBe(0)
      const { adminToken } = JSON.parse(init.stdout) as { adminToken: string }
      expect(adminToken).toMatch(/^kr_/)
      for (const file of ['master.key', 'keyrotor.db'])
        expect(statSync(join(dataDir, file)).mode & 0o077).toBe(0)
      const again = await runCliProcess(['init', '--data-dir', dataDir])
      expect(again.code).not.toBe(0)
      expect(again.stdout).not.toContain('kr_')

      const config = join(dataDir, 'keyrotor.yaml')
      writeFileSync(config, `keys:${keyYaml({ id: 'solo-key', algorithm: 'ed25519', dependents: [] })}`)
      const port = await freePort()
      const server = spawnCli([
        'server',
        '--data-dir',
        dataDir,
        '--config',
        config,
        '--port',
        String(port),
        '--lease-ttl',
        '10s',
        '--scheduler-concurrency',
        '2',
      ])
      await waitForLine(server, /keyrotor started/)
      const keys = await runCliProcess(['keys', 'list', '--json'], {
        KEYROTOR_URL: `http://127.0.0.1:${port}`,
        KEYROTOR_TOKEN: adminToken,
      })
      expect(JSON.parse(keys.stdout)).toEqual([
        expect.objectContaining({ id: 'solo-key', algorithm: 'ed25519' }),
      ])
      const schedule = await runCliProcess(['schedule', '--json'], {
        KEYROTOR_URL: `http://127.0.0.1:${port}`,
        KEYROTOR_TOKEN: adminToken,
      })
      expect(JSON.parse(schedule.stdout)).toMatchObject({ concurrency: 2 })
      server.kill('SIGTERM')
      expect(await exitOf(server)).toBe(0)
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
