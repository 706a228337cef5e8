import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { KeyView, RunView } from '../../src/engine/views.js'
import { createExecProvider } from '../../src/providers/exec/exec-provider.js'
import { exitOf, runCliProcess, spawnCli } from '../helpers/cli.js'
import { createServerFixture, type ServerFixture, type ServerProcess } from '../helpers/harness.js'
import { createFileHookBackend, type FileHookBackend } from './file-hook.js'

const KEY = 'orders-dek'
const ALIAS = 'alias/orders'
const REF = { keyId: KEY, algorithm: 'hmac-sha256' as const }

function configYaml(providers: string[], provider = 'hook'): string {
  return [
    'providers:',
    ...providers,
    'keys:',
    `  - { id: ${KEY}, provider: ${provider}, algorithm: hmac-sha256, owner: orders, aliases: [${ALIAS}],`,
    '      policy: { gracePeriod: 0s, phaseTimeout: 20s } }',
    '',
  ].join('\n')
}

describe('config validate and server start with provider instances (CLI)', () => {
  let backend: FileHookBackend
  beforeAll(() => {
    backend = createFileHookBackend()
  })
  afterAll(() => backend.dispose())
  const write = (text: string) => {
    const file = join(backend.dir, `config-${Math.random().toString(36).slice(2)}.yaml`)
    writeFileSync(file, text)
    return file
  }

  it('accepts a key on a hook that answers list-versions', async () => {
    const result = await runCliProcess(['config', 'validate', write(configYaml([backend.yaml('hook')]))])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
  })

  it('exits 2 naming an unknown provider', async () => {
    const result = await runCliProcess([
      'config',
      'validate',
      write(configYaml([backend.yaml('hook')], 'hsm')),
    ])
    expect(result.code).toBe(2)
    expect(result.stdout).toContain('keys[0].provider: unknown provider "hsm" (defined: local, hook;')
  })

  it('exits 2 naming the instance whose hook cannot run, in validate and at server start', async () => {
    const broken = '  vault: { type: exec, command: [/opt/keyrotor/vault-transit-hook] }'
    const file = write(configYaml([backend.yaml('hook'), broken]))
    const result = await runCliProcess(['config', 'validate', file, '--json'])
    expect(result.code).toBe(2)
    const answer = JSON.parse(result.stdout) as { valid: boolean; problems: string[] }
    expect(answer.valid).toBe(false)
    expect(answer.problems).toEqual([
      'providers.vault: /opt/keyrotor/vault-transit-hook: exec provider list-versions: could not start /opt/keyrotor/vault-transit-hook: command not found',
    ])

    const fixture = await createServerFixture('sqlite', '')
    try {
      const server = spawnCli(['server', '--data-dir', fixture.dataDir, '--config', file, '--port', '0'])
      let stderr = ''
      server.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      server.stdout?.resume()
      expect(await exitOf(server)).toBe(2)
      expect(stderr).toContain('providers.vault:')
      // nothing was enrolled on the good hook either
      expect(await createExecProvider(backend.settings, { env: process.env }).listVersions(REF)).toEqual([])
    } finally {
      await fixture.dispose()
    }
  })
})

describe('a key behind an exec hook, rotated and revoked from the CLI', () => {
  let backend: FileHookBackend
  let fixture: ServerFixture
  let server: ServerProcess
  let env: Record<string, string>
  const hook = () => createExecProvider(backend.settings, { env: process.env })
  const cli = async (...args: string[]) => runCliProcess(args, env)
  const json = async <T>(...args: string[]): Promise<T> =>
    JSON.parse((await cli(...args, '--json')).stdout) as T

  beforeAll(async () => {
    backend = createFileHookBackend()
    fixture = await createServerFixture('sqlite', configYaml([backend.yaml('hook')]))
    server = await fixture.start({})
    env = { KEYROTOR_URL: server.url, KEYROTOR_TOKEN: fixture.adminToken }
  })
  afterAll(async () => {
    server?.child.kill('SIGTERM')
    if (server !== undefined) await exitOf(server.child)
    await fixture?.dispose()
    backend?.dispose()
  })

  async function waitForRevoke(version: number): Promise<RunView> {
    for (let i = 0; i < 600; i++) {
      const runs = await json<RunView[]>('runs', 'list', '--key', KEY)
      const revoke = runs.find((r) => r.kind === 'revoke' && r.fromVersion === version)
      if (revoke !== undefined && !['queued', 'running'].includes(revoke.state)) return revoke
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error(`no finished revoke of v${version}`)
  }

  it('rotates and revokes, the hook holding the versions and keys show printing their providerRef', async () => {
    const rotate = await cli('rotate', KEY, '--wait')
    expect(rotate.code).toBe(0)
    expect((await waitForRevoke(1)).state).toBe('succeeded')

    expect((await hook().listVersions(REF)).map((v) => [v.version, v.state])).toEqual([
      [1, 'disabled'],
      [2, 'enabled'],
    ])
    expect(await hook().getAlias(REF, ALIAS)).toBe(2)
    const shown = await cli('keys', 'show', KEY)
    expect(shown.stdout).toContain(`on hook`)
    expect(shown.stdout).toMatch(/ 2 +active .* file-hook:orders-dek\.v2/)
    const view = await json<KeyView>('keys', 'show', KEY)
    expect(view.versions.map((v) => v.providerRef)).toEqual([
      'file-hook:orders-dek.v1',
      'file-hook:orders-dek.v2',
    ])
  })

  it('fails a run as provider_transient when the hook exits 75, moves no alias, and finishes on retry', async () => {
    backend.fault('create-version', 'tempfail', 1)
    const failed = await cli('rotate', KEY, '--wait')
    expect(failed.code).toBe(1)
    expect(failed.stdout).toContain('provider_transient')
    const run = (await json<RunView[]>('runs', 'list', '--key', KEY)).find((r) => r.state === 'failed')
    expect(run?.failure).toMatchObject({ class: 'provider_transient', phase: 'create' })
    expect(run?.failure?.message).toContain('exec provider create-version: the hook exited 75')
    expect(await hook().getAlias(REF, ALIAS)).toBe(2)
    expect(await hook().describeVersion(REF, 3)).toBeNull()

    expect((await cli('runs', 'verify', run?.id ?? '')).code).toBe(0)
    expect((await cli('runs', 'retry', run?.id ?? '')).code).toBe(0)
    expect((await cli('runs', 'wait', run?.id ?? '')).code).toBe(0)
    expect(await hook().getAlias(REF, ALIAS)).toBe(3)
    expect((await waitForRevoke(2)).state).toBe('succeeded')
  })

  it('fails a run as provider_error naming the operation when the hook answers garbage, and the alias never moves', async () => {
    backend.fault('set-alias', 'garbage')
    try {
      const failed = await cli('rotate', KEY, '--wait')
      expect(failed.code).not.toBe(0)
      const runs = await json<RunView[]>('runs', 'list', '--key', KEY)
      const run = runs.find((r) => r.kind === 'rotate' && r.failure !== null)
      expect(run?.failure, JSON.stringify(runs)).toMatchObject({ class: 'provider_error', phase: 'promote' })
      expect(run?.failure?.message).toContain('exec provider set-alias: the hook printed no JSON document')
      expect(await hook().getAlias(REF, ALIAS)).toBe(3)
    } finally {
      backend.clearFault()
    }
  })
})
