import { createPublicKey } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { KeyView, RunView } from '../../src/engine/views.js'
import { createPkcs11Provider } from '../../src/providers/pkcs11/pkcs11-provider.js'
import { exitOf, runCliProcess, spawnCli } from '../helpers/cli.js'
import { createServerFixture, type ServerFixture, type ServerProcess } from '../helpers/harness.js'
import {
  createSofthsm,
  listObjectsWithPkcs11Tool,
  SOFTHSM_MODULE,
  softhsmAvailable,
  type Softhsm,
} from '../helpers/softhsm.js'

const TOKEN = { label: 'keyrotor', pin: 'cli-user-pin-31', soPin: 'cli-so-pin-42' }
const KEY = 'auth-signing'
const ALIAS = 'alias/auth-signing'
const REF = { keyId: KEY, algorithm: 'ec-p256' as const }

function configYaml(
  hsm: Partial<Record<'module' | 'tokenLabel' | 'pinEnv', string>> = {},
  algorithm = 'ec-p256',
): string {
  const s = { module: SOFTHSM_MODULE, tokenLabel: TOKEN.label, pinEnv: 'HSM_PIN', ...hsm }
  return [
    'providers:',
    `  hsm: { type: pkcs11, module: ${s.module}, tokenLabel: ${s.tokenLabel}, pinEnv: ${s.pinEnv} }`,
    'keys:',
    `  - { id: ${KEY}, provider: hsm, algorithm: ${algorithm}, owner: auth, aliases: [${ALIAS}],`,
    '      policy: { gracePeriod: 0s, phaseTimeout: 20s, jwksMaxAge: 1s } }',
    '',
  ].join('\n')
}

describe.skipIf(!softhsmAvailable())('a key on a PKCS#11 token (SoftHSM2), from the CLI', () => {
  let hsm: Softhsm
  let fixture: ServerFixture | undefined
  let server: ServerProcess | undefined
  let hsmEnv: Record<string, string>
  beforeAll(() => {
    hsm = createSofthsm([TOKEN])
    hsmEnv = { ...hsm.env, HSM_PIN: TOKEN.pin }
  })
  afterAll(async () => {
    if (server !== undefined) {
      server.child.kill('SIGTERM')
      await exitOf(server.child)
    }
    await fixture?.dispose()
    hsm.dispose()
  })
  const write = (text: string) => {
    const file = join(hsm.conf, '..', `config-${Math.random().toString(36).slice(2)}.yaml`)
    writeFileSync(file, text)
    return file
  }

  it.each([
    [
      'a missing PIN variable',
      configYaml(),
      { ...{} },
      'providers.hsm: the PIN variable HSM_PIN of token "keyrotor"',
    ],
    [
      'a wrong PIN',
      configYaml(),
      { HSM_PIN: 'wrong-pin' },
      'providers.hsm: login to token "keyrotor" (module',
    ],
    [
      'a module that does not load',
      configYaml({ module: '/opt/hsm/libnothere.so' }),
      { HSM_PIN: TOKEN.pin },
      'providers.hsm: module /opt/hsm/libnothere.so does not load',
    ],
    [
      'a token no slot holds',
      configYaml({ tokenLabel: 'prod-hsm' }),
      { HSM_PIN: TOKEN.pin },
      'providers.hsm: no token labelled "prod-hsm"',
    ],
  ])('config validate exits 2 naming the instance and %s', async (_what, yaml, extraEnv, expected) => {
    const env = { ...hsm.env, ...extraEnv }
    const result = await runCliProcess(['config', 'validate', write(yaml)], env)
    expect(result.code).toBe(2)
    expect(result.stdout + result.stderr).toContain(expected)
    expect(result.stdout + result.stderr).not.toContain('wrong-pin')
  })

  it('config validate accepts the token with its PIN, and server start refuses a wrong PIN with exit 2', async () => {
    const ok = await runCliProcess(['config', 'validate', write(configYaml())], hsmEnv)
    expect(ok.stdout + ok.stderr).toContain('valid')
    expect(ok.code).toBe(0)

    const bad = await createServerFixture('sqlite', '')
    try {
      const child = spawnCli(
        ['server', '--data-dir', bad.dataDir, '--config', write(configYaml()), '--port', '0'],
        {
          ...hsm.env,
          HSM_PIN: 'wrong-pin',
        },
      )
      let stderr = ''
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      child.stdout?.resume()
      expect(await exitOf(child)).toBe(2)
      expect(stderr).toMatch(/providers\.hsm: login to token "keyrotor" .* refused: CKR_PIN_INCORRECT/)
    } finally {
      await bad.dispose()
    }
  })

  it('rotates and revokes: versions on the token, keys show printing their label, the JWKS read from the token', async () => {
    fixture = await createServerFixture('sqlite', configYaml(), { secrets: hsmEnv })
    server = await fixture.start({})
    const env = { KEYROTOR_URL: server.url, KEYROTOR_TOKEN: fixture.adminToken }
    const cli = (...args: string[]) => runCliProcess(args, env)

    const rotate = await cli('rotate', KEY, '--wait')
    expect(rotate.code, rotate.stdout + rotate.stderr).toBe(0)
    let revoke: RunView | undefined
    for (let i = 0; i < 600 && !['succeeded', 'failed', 'halted'].includes(revoke?.state ?? ''); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      const runs = JSON.parse((await cli('runs', 'list', '--key', KEY, '--json')).stdout) as RunView[]
      revoke = runs.find((r) => r.kind === 'revoke')
    }
    expect(revoke?.state).toBe('succeeded')

    const shown = await cli('keys', 'show', KEY)
    expect(shown.stdout).toMatch(/ 2 +active .* auth-signing\.v2/)
    const view = JSON.parse((await cli('keys', 'show', KEY, '--json')).stdout) as KeyView
    expect(view.versions.map((v) => [v.version, v.state, v.providerRef])).toEqual([
      [1, 'disabled', 'auth-signing.v1'],
      [2, 'active', 'auth-signing.v2'],
    ])

    // the token agrees, read by an instance of this process (the server is another)
    const provider = createPkcs11Provider(
      { type: 'pkcs11', module: SOFTHSM_MODULE, tokenLabel: TOKEN.label, pinEnv: 'HSM_PIN' },
      { env: hsmEnv },
    )
    try {
      expect((await provider.listVersions(REF)).map((v) => [v.version, v.state])).toEqual([
        [1, 'disabled'],
        [2, 'enabled'],
      ])
      expect(await provider.getAlias(REF, ALIAS)).toBe(2)
      const jwks = (await (await fetch(`${server.url}/v1/keys/${KEY}/jwks.json`)).json()) as {
        keys: { kid: string }[]
      }
      expect(jwks.keys).toEqual([await provider.publicJwk(REF, 2)])
      // a JWK a standard library accepts as a P-256 public key
      expect(
        createPublicKey({ key: jwks.keys[0] as never, format: 'jwk' }).asymmetricKeyDetails,
      ).toMatchObject({
        namedCurve: 'prime256v1',
      })
    } finally {
      await provider.close()
    }
    const listing = listObjectsWithPkcs11Tool(hsm, TOKEN)
    expect(listing).toMatch(
      /Private Key Object; EC\n\s+label:\s+auth-signing\.v2\n[\s\S]*?Access:\s+sensitive, always sensitive, never extractable/,
    )
  })
})
