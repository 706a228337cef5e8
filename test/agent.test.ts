import { createPrivateKey, createPublicKey } from 'node:crypto'
import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseAgentConfig, type AgentConfig, type AgentKeyConfig } from '../src/agent/agent-config.js'
import { AGENT_JSON_SCHEMA_PATH, agentJsonSchemaText } from '../src/agent/agent-json-schema.js'
import { startAgent, type RunningAgent } from '../src/agent/agent.js'
import { KeyAgent } from '../src/agent/key-agent.js'
import { freePort } from '../src/demo/free-port.js'
import { signedHeaders } from '../src/dependents/signature.js'
import { createLogger } from '../src/observability/logger.js'
import { startHarness, type Harness } from './helpers/harness.js'
import { keyYaml } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

const SECRET = 'agent-notice-secret'
const silent = createLogger({ level: 'silent' })

describe('agent.yaml', () => {
  const base = `keyrotor: { url: "http://127.0.0.1:8420", tokenEnv: TOKEN }\nlisten: "127.0.0.1:9101"\nsecretEnv: HOOK_SECRET\n`

  it('reads the single-key form and the keys: list form alike', () => {
    const single = parseAgentConfig(
      `${base}key: payments-dek\nrole: encrypt\noutput: { dir: /k, format: raw }\nreload: [systemctl, reload, payments]\n`,
      'agent.yaml',
    )
    expect(single.keys).toEqual([
      {
        key: 'payments-dek',
        role: 'encrypt',
        output: { dir: '/k', format: 'raw' },
        reload: ['systemctl', 'reload', 'payments'],
        healthCheck: undefined,
        tokenEnv: 'TOKEN',
        initialVersion: undefined,
      },
    ])
    expect(single.listen).toEqual({ host: '127.0.0.1', port: 9101 })
    const list = parseAgentConfig(
      `${base}reload: [kill, -HUP, "42"]\nkeys:\n  - { key: a, role: sign, output: { dir: /a, format: pem }, tokenEnv: A_TOKEN }\n  - { key: b, role: verify, output: { dir: /b, format: jwk }, reload: ["true"] }\n`,
      'agent.yaml',
    )
    expect(list.keys.map((k) => [k.key, k.reload, k.tokenEnv])).toEqual([
      ['a', ['kill', '-HUP', '42'], 'A_TOKEN'],
      ['b', ['true'], 'TOKEN'],
    ])
  })

  it('names the path of every problem, like keyrotor.yaml', () => {
    const bad = () =>
      parseAgentConfig(
        `${base}keys:\n  - { key: a, role: admin, output: { dir: /a, format: der } }\n  - { key: a, role: sign, output: { dir: /a, format: pem }, reload: "kill -HUP 1" }\nrole: sign\n`,
        'agent.yaml',
      )
    expect(bad).toThrow(/agent\.yaml: keys\[0\]\.role: "admin" is not valid: must be one of encrypt/)
    expect(bad).toThrow(/agent\.yaml: keys\[0\]\.output\.format: "der" is not valid: must be one of jwk/)
    expect(bad).toThrow(/agent\.yaml: keys\[1\]\.reload: must be a list/)
    expect(() =>
      parseAgentConfig(
        `${base}keys:\n  - { key: a, role: sign, output: { dir: /a, format: pem } }\n  - { key: a, role: sign, output: { dir: /a, format: pem } }\n`,
        'agent.yaml',
      ),
    ).toThrow(
      /agent\.yaml: keys\[1\]\.key: a is listed twice\nagent\.yaml: keys\[1\]\.output\.dir: each key needs its own output dir/,
    )
    expect(() =>
      parseAgentConfig(
        `${base}key: a\nrole: sign\noutput: { dir: /a, format: pem }\nkeys: []\n`,
        'agent.yaml',
      ),
    ).toThrow(/agent\.yaml: keys: /)
    expect(() => parseAgentConfig(`${base}role: sign\n`, 'agent.yaml')).toThrow(
      /agent\.yaml: key: is required/,
    )
    expect(() => parseAgentConfig(base.replace('9101', 'x'), 'agent.yaml')).toThrow(
      /agent\.yaml: listen: must be host:port/,
    )
  })

  it('publishes a JSON Schema generated from the same definition', () => {
    expect(readFileSync(AGENT_JSON_SCHEMA_PATH, 'utf8')).toBe(agentJsonSchemaText())
  })
})

describe.each(DIALECTS)('the agent against a keyrotor server on %s', (dialect) => {
  let h: Harness
  let root: string
  const tokens: Record<string, string> = {}
  const running: RunningAgent[] = []

  beforeAll(async () => {
    h = await startHarness(
      dialect,
      `keys:${keyYaml({ id: 'svc-dek', algorithm: 'aes-256-gcm', dependents: [] })}${keyYaml({ id: 'svc-sign', algorithm: 'ec-p256', dependents: [] })}`,
    )
    root = mkdtempSync(join(tmpdir(), 'keyrotor-agent-'))
    for (const key of ['svc-dek', 'svc-sign']) {
      const created = await h.api<{ token: string }>('POST', '/v1/tokens', {
        user: `${key}-svc`,
        role: 'consumer',
        key,
      })
      tokens[`${key.replace('-', '_').toUpperCase()}_TOKEN`] = created.body.token
    }
  })
  afterAll(async () => {
    for (const agent of running) await agent.close()
    await h?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  async function agentFor(
    keys: Partial<AgentKeyConfig>[],
  ): Promise<{ agent: RunningAgent; config: AgentConfig }> {
    const config: AgentConfig = {
      keyrotorUrl: h.url,
      listen: { host: '127.0.0.1', port: await freePort() },
      secretEnv: 'HOOK_SECRET',
      timeoutMs: 5_000,
      keys: keys.map((k) => ({
        key: 'svc-dek',
        role: 'encrypt',
        output: { dir: join(root, `${k.key ?? 'svc-dek'}-${k.role ?? 'encrypt'}`), format: 'raw' },
        reload: undefined,
        healthCheck: undefined,
        tokenEnv: 'SVC_DEK_TOKEN',
        initialVersion: 1,
        ...k,
      })),
    }
    const secrets: Record<string, string> = { ...tokens, HOOK_SECRET: SECRET }
    const agent = await startAgent({ config, secretOf: (name) => secrets[name], log: silent })
    running.push(agent)
    return { agent, config }
  }

  it('hands over raw secret bytes, a PKCS#8 private key and an SPKI public key, 0600, with current as a symlink', async () => {
    const { config } = await agentFor([
      { key: 'svc-dek', role: 'encrypt', tokenEnv: 'SVC_DEK_TOKEN' },
      {
        key: 'svc-sign',
        role: 'sign',
        tokenEnv: 'SVC_SIGN_TOKEN',
        output: { dir: join(root, 'sign'), format: 'pem' },
      },
    ])
    const [dek, sign] = config.keys as [AgentKeyConfig, AgentKeyConfig]
    expect(readFileSync(join(dek.output.dir, 'v1.key'))).toHaveLength(32)
    expect(statSync(join(dek.output.dir, 'v1.key')).mode & 0o777).toBe(0o600)
    expect(lstatSync(join(sign.output.dir, 'current')).isSymbolicLink()).toBe(true)
    expect(readlinkSync(join(sign.output.dir, 'current'))).toBe('v1.pem')
    const pem = readFileSync(join(sign.output.dir, 'current'), 'utf8')
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/)
    expect(createPrivateKey(pem).asymmetricKeyType).toBe('ec')

    const { config: verifier } = await agentFor([
      {
        key: 'svc-sign',
        role: 'verify',
        tokenEnv: undefined,
        output: { dir: join(root, 'verify'), format: 'pem' },
      },
    ])
    const publicPem = readFileSync(join(verifier.keys[0]!.output.dir, 'v1.pem'), 'utf8')
    expect(publicPem).toMatch(/^-----BEGIN PUBLIC KEY-----/)
    expect(createPublicKey(publicPem).export({ format: 'jwk' })).toEqual(
      createPublicKey(pem).export({ format: 'jwk' }),
    )
  })

  it('answers 401 to an unsigned, forged, stale or replayed notice and changes nothing', async () => {
    const { agent } = await agentFor([{ output: { dir: join(root, 'notices'), format: 'jwk' } }])
    const probe = async () => (await fetch(`${agent.url}/keyrotor/probe`)).json()
    const before = await probe()
    expect(before).toEqual({ key: 'svc-dek', accepts: [1], active: 1 })
    const notice = (event: string) =>
      JSON.stringify({
        event,
        key: 'svc-dek',
        version: 1,
        runId: 'r',
        correlationId: 'c',
        deadline: '2030-01-01T00:00:00Z',
      })
    const post = (body: string, headers: Record<string, string>) =>
      fetch(`${agent.url}/keyrotor/notify`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...headers },
      })
    const compromised = notice('key.compromised')
    expect((await post(compromised, {})).status).toBe(401)
    expect((await post(compromised, signedHeaders('not-the-secret', compromised))).status).toBe(401)
    expect(
      (await post(compromised, signedHeaders(SECRET, compromised, Date.now() - 6 * 60_000))).status,
    ).toBe(401)
    const staged = notice('key.version.staged')
    const headers = signedHeaders(SECRET, staged)
    expect((await post(staged, headers)).status).toBe(200)
    const replay = await post(staged, headers)
    expect(replay.status).toBe(401)
    expect(await replay.json()).toEqual({ error: 'notice signature refused: replayed' })
    expect(await probe()).toEqual(before)

    // signed and fresh: refused while v1 is the service's active version, then a compromise moves off it
    const retired = notice('key.version.retired')
    const refused = await post(retired, signedHeaders(SECRET, retired))
    expect(refused.status).toBe(409)
    expect(await probe()).toEqual(before)
    expect(await post(compromised, signedHeaders(SECRET, compromised))).toHaveProperty('status', 200)
    // an encrypting service stops encrypting with it at once, and still decrypts what it wrote
    expect(await probe()).toEqual({ key: 'svc-dek', accepts: [1], active: null })
    expect(readdirSync(join(root, 'notices')).filter((f) => !f.startsWith('.'))).toEqual(['v1.jwk'])
  })

  it('refuses to start on an output dir it cannot write, or with a token bound to another key, naming the key', async () => {
    const file = join(root, 'a-file')
    writeFileSync(file, '')
    await expect(agentFor([{ output: { dir: join(file, 'keys'), format: 'raw' } }])).rejects.toThrow(
      `output dir ${join(file, 'keys')} of key svc-dek is not writable (ENOTDIR)`,
    )
    await expect(
      agentFor([{ tokenEnv: 'SVC_SIGN_TOKEN', output: { dir: join(root, 'wrong'), format: 'raw' } }]),
    ).rejects.toThrow(
      /key svc-dek: cannot hand over its initial version: material of svc-dek v1 refused \(HTTP 403\): the token in SVC_SIGN_TOKEN is not a consumer token bound to key svc-dek/,
    )
  })
})

describe('the agent for a key whose material never leaves its backend', () => {
  it('writes the providerRef of the notice when the material endpoint answers 409 MATERIAL_UNAVAILABLE', async () => {
    // keyrotor's HSM and KMS providers cannot run here: this answers as the material endpoint does for them
    const backend = createServer((request, response) => {
      const ok = request.headers.authorization === 'Bearer hsm-token'
      response.writeHead(ok ? 409 : 403, { 'content-type': 'application/problem+json' })
      response.end(
        JSON.stringify({ status: ok ? 409 : 403, code: ok ? 'MATERIAL_UNAVAILABLE' : 'FORBIDDEN' }),
      )
    })
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve))
    const dir = mkdtempSync(join(tmpdir(), 'keyrotor-agent-hsm-'))
    try {
      const agent = await KeyAgent.start({
        config: {
          key: 'hsm-sign',
          role: 'sign',
          output: { dir, format: 'pem' },
          reload: undefined,
          healthCheck: undefined,
          tokenEnv: 'HSM_TOKEN',
          initialVersion: undefined,
        },
        keyrotorUrl: `http://127.0.0.1:${(backend.address() as AddressInfo).port}`,
        token: 'hsm-token',
        timeoutMs: 5_000,
        log: silent,
      })
      await agent.apply({
        event: 'key.version.promoted',
        key: 'hsm-sign',
        version: 2,
        runId: 'r',
        correlationId: 'c',
        deadline: '2030-01-01T00:00:00Z',
        providerRef: 'pkcs11:token=keyrotor;object=hsm-sign.v2',
      })
      expect(readFileSync(join(dir, 'current'), 'utf8')).toBe('pkcs11:token=keyrotor;object=hsm-sign.v2\n')
      expect(readlinkSync(join(dir, 'current'))).toBe('v2.ref')
      expect(agent.probeAnswer()).toEqual({ key: 'hsm-sign', accepts: [2], active: 2 })
    } finally {
      backend.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
