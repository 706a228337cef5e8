import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { parse as parseYaml } from 'yaml'
import { describe, expect, it } from 'vitest'
import { configJsonSchema, JSON_SCHEMA_PATH } from '../src/config/json-schema.js'
import { configHash, loadConfigFile, parseConfig, policyMs } from '../src/config/load-config.js'
import { isKeyrotorError } from '../src/errors.js'

const EXAMPLE_PATH = 'test/fixtures/keyrotor.example.yaml'
const EXAMPLE = readFileSync(EXAMPLE_PATH, 'utf8')

/** The INVALID_CONFIG message parseConfig throws for `text` (fails the test if it does not throw). */
function problemsOf(text: string, options?: Parameters<typeof parseConfig>[2]): string {
  try {
    parseConfig(text, 'k.yaml', options)
  } catch (error) {
    if (isKeyrotorError(error, 'INVALID_CONFIG')) return error.message
    throw error
  }
  throw new Error('expected parseConfig to refuse the config')
}

/** The example with one line replaced, so each case differs from a valid file by one edit. */
function exampleWith(from: string, to: string): string {
  if (!EXAMPLE.includes(from)) throw new Error(`fixture has no ${from}`)
  return EXAMPLE.replace(from, to)
}

describe('parseConfig', () => {
  it('accepts the CONTRACT.md example and fills defaults', () => {
    const config = parseConfig(EXAMPLE, EXAMPLE_PATH)
    expect(config.keys[0]?.id).toBe('payments-dek')
    expect(config.keys[0]?.policy).toEqual({
      rotationPeriod: '90d',
      gracePeriod: '7d',
      revoke: 'disable',
      window: 'weekend',
      phaseTimeout: '10m',
      requireApproval: false,
    })
    expect(config.windows.weekend).toEqual({ cron: '0 2 * * SAT', duration: '6h', timezone: 'UTC' })
    expect(Object.isFrozen(config.keys[0]?.policy)).toBe(true)
  })

  it('accepts the complete example in docs/configuration.md', () => {
    const docs = readFileSync('docs/configuration.md', 'utf8')
    const example = /## A complete example\s+```yaml\n([\s\S]*?)```/.exec(docs)?.[1]
    expect(example).toBeDefined()
    expect(parseConfig(example ?? '', 'docs').keys.map((k) => k.id)).toEqual(['payments-dek', 'auth-signing'])
  })

  it('treats an empty file as a config with no keys', () => {
    expect(parseConfig('', 'empty.yaml')).toEqual({
      providers: {},
      keys: [],
      windows: {},
      blackouts: [],
      notifications: { alerts: [], incidents: [] },
    })
  })

  const cases: { name: string; text: string; expected: string }[] = [
    {
      name: 'a bad duration',
      text: exampleWith('gracePeriod: 7d', 'gracePeriod: 7 days'),
      expected: 'k.yaml: keys[0].policy.gracePeriod: must be a duration such as 30s, 10m, 6h or 90d',
    },
    {
      name: 'a zero phase timeout',
      text: exampleWith('phaseTimeout: 10m', 'phaseTimeout: 0s'),
      expected: 'k.yaml: keys[0].policy.phaseTimeout: must be longer than zero',
    },
    {
      name: 'an unknown algorithm',
      text: exampleWith('algorithm: aes-256-gcm', 'algorithm: aes-512-gcm'),
      expected:
        'k.yaml: keys[0].algorithm: "aes-512-gcm" is not valid: must be one of aes-256-gcm, hmac-sha256',
    },
    {
      name: 'an unknown window',
      text: exampleWith('window: weekend', 'window: weekday'),
      expected: 'k.yaml: keys[0].policy.window: unknown window "weekday" (defined: weekend)',
    },
    {
      name: 'an unknown field',
      text: exampleWith('    owner: payments-team', '    owner: payments-team\n    ownr: someone'),
      expected: 'k.yaml: keys[0].ownr: unknown field',
    },
    {
      name: 'a missing required field',
      text: exampleWith('    owner: payments-team\n', ''),
      expected: 'k.yaml: keys[0].owner: is required',
    },
    {
      name: 'a probe of neither form',
      text: exampleWith('probe: { http:', 'probe: { grpc:'),
      expected: 'k.yaml: keys[0].dependents[0].probe: must be either {http: URL} or {exec: [command, args…]}',
    },
    {
      name: 'a blackout that ends before it starts',
      text: exampleWith("to: '2027-01-03T00:00:00Z'", "to: '2026-01-03T00:00:00Z'"),
      expected: 'k.yaml: blackouts[0].to: must be after from (2026-12-20T00:00:00Z)',
    },
    {
      name: 'a blackout for an unknown key',
      text: exampleWith('keys: [payments-dek]', 'keys: [billing-dek]'),
      expected: 'k.yaml: blackouts[1].keys[0]: unknown key "billing-dek"',
    },
    {
      name: 'an invalid time zone',
      text: exampleWith('timezone: UTC', 'timezone: Mars/Olympus'),
      expected: 'k.yaml: windows.weekend.timezone: must be an IANA time zone',
    },
  ]
  for (const c of cases) {
    it(`refuses ${c.name}, naming its path`, () => {
      expect(problemsOf(c.text)).toContain(c.expected)
    })
  }

  it('refuses a duplicate key id and a duplicate alias across keys, listing both', () => {
    const second = `  - { id: payments-dek, provider: local, algorithm: ed25519, owner: x, aliases: [alias/payments] }\n`
    const message = problemsOf(exampleWith('windows:\n', `${second}windows:\n`))
    expect(message.split('\n')).toEqual([
      'k.yaml: keys[1].id: duplicate key id "payments-dek" (also keys[0])',
      'k.yaml: keys[1].aliases[0]: duplicate alias "alias/payments": already used by key "payments-dek" (keys[0])',
    ])
  })

  it('refuses duplicate dependent names within one key', () => {
    const dup = `      - { name: payments-api, probe: { exec: [probe.sh] } }\nwindows:\n`
    expect(problemsOf(exampleWith('windows:\n', dup))).toContain(
      'k.yaml: keys[0].dependents[1].name: duplicate dependent "payments-api" for key "payments-dek"',
    )
  })

  const HSM =
    '  hsm: { type: pkcs11, module: /usr/lib/softhsm/libsofthsm2.so, tokenLabel: keyrotor, pinEnv: HSM_PIN }'
  const withProviders = (...entries: string[]) => `providers:\n${entries.join('\n')}\n${EXAMPLE}`

  it('accepts named provider instances of each type and keys on them', () => {
    const text = withProviders(
      HSM,
      '  aws: { type: aws-kms, region: eu-west-1, endpoint: "http://127.0.0.1:4566", deletionWindow: 7d }',
      '  vault: { type: exec, command: [/opt/keyrotor/vault-transit-hook] }',
    ).replace('provider: local ', 'provider: vault ')
    const config = parseConfig(text, 'k.yaml')
    expect(config.keys[0]?.provider).toBe('vault')
    expect(config.providers.vault).toEqual({
      type: 'exec',
      command: ['/opt/keyrotor/vault-transit-hook'],
      timeout: '30s',
    })
    expect(config.providers.hsm).toMatchObject({ type: 'pkcs11', pinEnv: 'HSM_PIN' })
  })

  it('refuses a key on an undeclared provider, naming it and the declared ones', () => {
    const text = withProviders(HSM).replace('provider: local ', 'provider: hms ')
    expect(problemsOf(text)).toContain(
      'k.yaml: keys[0].provider: unknown provider "hms" (defined: local, hsm; declare it under providers)',
    )
  })

  const providerCases: { name: string; entry: string; expected: string }[] = [
    {
      name: 'a PIN written in place of its variable name',
      entry: '  hsm: { type: pkcs11, module: /lib/p11.so, tokenLabel: t, pinEnv: "1234" }',
      expected: 'k.yaml: providers.hsm.pinEnv: must be an environment variable name',
    },
    {
      name: 'a deletion window KMS does not allow',
      entry: '  aws: { type: aws-kms, region: eu-west-1, deletionWindow: 3d }',
      expected: 'k.yaml: providers.aws.deletionWindow: must be between 7d and 30d',
    },
    {
      name: 'an exec provider without a command',
      entry: '  vault: { type: exec, command: [] }',
      expected: 'k.yaml: providers.vault.command: must have at least 1 item(s)',
    },
    {
      name: 'an unknown provider type',
      entry: '  vault: { type: vault-transit, address: "https://vault:8200" }',
      expected:
        'k.yaml: providers.vault.type: "vault-transit" is not valid: must be one of pkcs11, aws-kms, exec (Vault/OpenBao Transit: type exec with its example hook)',
    },
    {
      name: 'a redefinition of the built-in local provider',
      entry: '  local: { type: exec, command: [hook] }',
      expected: 'k.yaml: providers.local: "local" is the built-in provider and cannot be redefined',
    },
  ]
  for (const c of providerCases) {
    it(`refuses ${c.name}, naming the instance`, () => {
      expect(problemsOf(withProviders(c.entry))).toContain(c.expected)
    })
  }

  it('refuses a provider type this build cannot use', () => {
    expect(problemsOf(withProviders(HSM), { isProviderAvailable: (type) => type !== 'pkcs11' })).toContain(
      'k.yaml: providers.hsm.type: provider type "pkcs11" is not available in this build',
    )
  })

  it('reports a YAML syntax error with its line and column', () => {
    const text = exampleWith('    aliases: [alias/payments]', '    aliases: [alias/payments')
    expect(problemsOf(text)).toMatch(/^k\.yaml:7:\d+: YAML syntax error: /)
  })

  it('lists every problem, one per line', () => {
    const text = exampleWith('gracePeriod: 7d', 'gracePeriod: soon').replace(
      'revoke: disable',
      'revoke: shred',
    )
    const lines = problemsOf(text).split('\n')
    expect(lines).toHaveLength(2)
    expect(lines.every((l) => l.startsWith('k.yaml: keys[0].policy.'))).toBe(true)
  })
})

describe('loadConfigFile', () => {
  it('names a missing file in its error', async () => {
    const missing = join(tmpdir(), 'keyrotor-no-such-dir', 'keyrotor.yaml')
    await expect(loadConfigFile(missing)).rejects.toThrow(`cannot read config file ${missing}: no such file`)
  })

  it('uses the file path as the source of its messages', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyrotor-config-'))
    try {
      const file = join(dir, 'keyrotor.yaml')
      writeFileSync(file, exampleWith('gracePeriod: 7d', 'gracePeriod: later'))
      await expect(loadConfigFile(file)).rejects.toThrow(
        `${file}: keys[0].policy.gracePeriod: must be a duration`,
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('configHash and policyMs', () => {
  it('hashes a config without provider instances as releases before `providers:` did', () => {
    // computed by the release before provider instances: a stored active version keeps matching its file
    const before = '06df8a2179953d6b82965ac8b569ff5dc64557ed51f7ec97b4441221c96a66fe'
    expect(configHash(parseConfig(EXAMPLE, 'a.yaml'))).toBe(before)
    expect(configHash(parseConfig(`providers: {}\n${EXAMPLE}`, 'a.yaml'))).toBe(before)
    const withHook = `providers:\n  hook: { type: exec, command: [hook] }\n${EXAMPLE}`
    expect(configHash(parseConfig(withHook, 'a.yaml'))).not.toBe(before)
  })

  it('ignores comments, layout and spelled-out defaults but not a change of meaning', () => {
    const base = configHash(parseConfig(EXAMPLE, 'a'))
    const reformatted = `# a comment\n${EXAMPLE.replace('critical: true', 'critical: true   # the default')}`
    expect(configHash(parseConfig(reformatted, 'b'))).toBe(base)
    expect(configHash(parseConfig(exampleWith('gracePeriod: 7d', 'gracePeriod: 8d'), 'c'))).not.toBe(base)
    expect(base).toMatch(/^[0-9a-f]{64}$/)
  })

  it('converts policy durations to milliseconds, with null for no built-in schedule', () => {
    const policy = parseConfig(EXAMPLE, 'a').keys[0]?.policy
    if (policy === undefined) throw new Error('fixture has a key')
    expect(policyMs(policy)).toEqual({
      gracePeriodMs: 604_800_000,
      phaseTimeoutMs: 600_000,
      rotationPeriodMs: 7_776_000_000,
    })
    expect(policyMs({ ...policy, rotationPeriod: undefined }).rotationPeriodMs).toBeNull()
  })
})

describe('the published JSON Schema', () => {
  const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020
  const validate = addFormats(new Ajv2020({ strict: false })).compile(configJsonSchema())

  it('is the committed schema/keyrotor.schema.json (run `npm run schema` after changing schema.ts)', () => {
    expect(JSON.parse(readFileSync(JSON_SCHEMA_PATH, 'utf8'))).toEqual(configJsonSchema())
  })

  it('accepts the CONTRACT.md example', () => {
    expect(validate(parseYaml(EXAMPLE)), JSON.stringify(validate.errors)).toBe(true)
  })

  it('rejects an unknown algorithm and a bad duration as an editor would flag them', () => {
    expect(validate(parseYaml(exampleWith('algorithm: aes-256-gcm', 'algorithm: aes-512-gcm')))).toBe(false)
    expect(validate(parseYaml(exampleWith('gracePeriod: 7d', 'gracePeriod: 7 days')))).toBe(false)
  })
})
