import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KeyrotorError } from '../../src/errors.js'
import { createExecProvider } from '../../src/providers/exec/exec-provider.js'
import { checkProviders } from '../../src/providers/registry.js'
import { createFileHookBackend, type FileHookBackend } from './file-hook.js'

const KEY = { keyId: 'orders-dek', algorithm: 'aes-256-gcm' as const }

async function failure(promise: Promise<unknown>): Promise<KeyrotorError> {
  const error = await promise.then(
    () => new Error('expected the call to fail'),
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(KeyrotorError)
  return error as KeyrotorError
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('exec provider: a hook that misbehaves', () => {
  let backend: FileHookBackend
  beforeAll(() => {
    backend = createFileHookBackend({ timeout: '1500ms' })
  })
  afterAll(() => backend.dispose())
  const provider = () => createExecProvider(backend.settings, { env: process.env })

  it('kills the whole process group of a hook that hangs, as a transient failure naming the operation', async () => {
    backend.fault('create-version', 'hang', 1)
    const error = await failure(provider().createVersion(KEY, 1))
    expect(error.code).toBe('PROVIDER_TRANSIENT')
    expect(error.retryable).toBe(true)
    expect(error.message).toMatch(/^exec provider create-version: the hook did not answer within 1500 ms/)
    const pids = readFileSync(join(backend.dir, 'hang.pids'), 'utf8').split(' ').map(Number)
    // the hook and the child it started (which held stdout open) are both gone
    for (let i = 0; i < 100 && pids.some(alive); i++) await delay(20)
    expect(pids.filter(alive)).toEqual([])
    expect(await provider().describeVersion(KEY, 1)).toBeNull()
  })

  it('retries nothing itself and reports exit 75 as transient with the last stderr line', async () => {
    backend.fault('set-alias', 'tempfail', 1)
    await provider().createVersion(KEY, 1)
    const error = await failure(provider().setAlias(KEY, 'alias/orders', 1))
    expect(error).toMatchObject({ code: 'PROVIDER_TRANSIENT', retryable: true })
    expect(error.message).toBe(
      'exec provider set-alias: the hook exited 75 (temporary failure): throttled, try again later',
    )
    expect(await provider().getAlias(KEY, 'alias/orders')).toBeNull()
  })

  it('reports another exit code as a provider error with the last stderr line cut to 500 characters', async () => {
    backend.fault('list-versions', 'crash', 1)
    const error = await failure(provider().listVersions(KEY))
    expect(error).toMatchObject({ code: 'PROVIDER_ERROR', retryable: false })
    expect(error.message).toMatch(/^exec provider list-versions: the hook exited 3: backend said: x+$/)
    expect(error.message.split(': the hook exited 3: ')[1]).toHaveLength(500)
  })

  it.each([
    ['garbage', 'the hook printed no JSON document'],
    ['wrong-shape', "the hook's answer is not the documented shape (version:"],
    ['huge', 'the hook printed more than 1 MiB'],
  ] as const)('refuses an answer that is %s as a provider error naming the operation', async (mode, why) => {
    backend.fault('describe-version', mode, 1)
    const error = await failure(provider().describeVersion(KEY, 1))
    expect(error.code).toBe('PROVIDER_ERROR')
    expect(error.message).toContain(`exec provider describe-version: ${why}`)
    expect(error.message).not.toContain('502 Bad Gateway')
  })

  it('maps a refusal on stdout to its code', async () => {
    const error = await failure(provider().setVersionState(KEY, 9, 'disabled'))
    expect(error.code).toBe('NOT_FOUND')
    expect(error.message).toBe('exec provider set-version-state: orders-dek.v9 does not exist')
  })

  it('gives the hook keyrotor’s environment without keyrotor’s own secrets', async () => {
    const out = join(backend.dir, 'env.txt')
    const hook = createExecProvider(
      {
        type: 'exec',
        command: ['/bin/sh', '-c', `env > ${out}; printf '{"versions":[]}'`, 'hook'],
        timeout: '5s',
      },
      { env: { PATH: process.env.PATH, VAULT_TOKEN: 'hook-needs-this', KEYROTOR_MASTER_KEY: 'c2VjcmV0' } },
    )
    expect(await hook.listVersions(KEY)).toEqual([])
    const env = readFileSync(out, 'utf8')
    expect(env).toContain('VAULT_TOKEN=hook-needs-this')
    expect(env).not.toContain('KEYROTOR_MASTER_KEY')
  })
})

describe('checkProviders (config validate, server start)', () => {
  it('names each instance that does not answer and the problem', async () => {
    const good = createFileHookBackend()
    try {
      const error = await failure(
        checkProviders(
          {
            good: good.settings,
            missing: { type: 'exec', command: ['/nonexistent/vault-hook'], timeout: '5s' },
            broken: {
              type: 'exec',
              command: ['/bin/sh', '-c', 'echo "vault sealed" >&2; exit 2', 'h'],
              timeout: '5s',
            },
          },
          process.env,
        ),
      )
      expect(error.code).toBe('INVALID_CONFIG')
      expect(error.details?.problems).toEqual([
        'providers.missing: /nonexistent/vault-hook: exec provider list-versions: could not start /nonexistent/vault-hook: command not found',
        'providers.broken: /bin/sh -c echo "vault sealed" >&2; exit 2 h: exec provider list-versions: the hook exited 2: vault sealed',
      ])
      expect(existsSync(join(good.dir, 'calls.log'))).toBe(true)
    } finally {
      good.dispose()
    }
  })

  it('names a pkcs11 instance whose module does not load beside the hooks', async () => {
    const error = await failure(
      checkProviders(
        {
          hsm: {
            type: 'pkcs11',
            module: '/nonexistent/libpkcs11.so',
            tokenLabel: 'keyrotor',
            pinEnv: 'HSM_PIN',
          },
        },
        { HSM_PIN: 'not-used' },
      ),
    )
    expect(error.details?.problems).toEqual([
      expect.stringMatching(/^providers\.hsm: module \/nonexistent\/libpkcs11\.so does not load/),
    ])
  })
})
