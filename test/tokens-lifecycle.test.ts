import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunView } from '../src/engine/views.js'
import type { TokenInfo } from '../src/governance/tokens.js'
import { runCliProcess } from './helpers/cli.js'
import { startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { keyYaml, planDependent, secretsOf, type PlannedDependent } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

interface Problem {
  status: number
  code: string
  detail: string
}

/**
 * A dependent that loads every version but never switches to the new one: `confirm` times out
 * after promote, which is a partial execution, so its key has something to correct forward.
 */
function stubbornDependent(port: number, key: string): Promise<Server> {
  const server = createServer((request, response) => {
    response.setHeader('content-type', 'application/json')
    if (request.url?.endsWith('/probe') === true) {
      response.end(JSON.stringify({ key, accepts: [1, 2, 3, 4, 5], active: 1 }))
    } else {
      request.resume()
      response.end('{}')
    }
  })
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)))
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.each(DIALECTS)('token lifecycle and required reasons on %s', (dialect) => {
  let h: Harness
  let dependent: PlannedDependent
  let server: Server
  let cliEnv: Record<string, string>

  async function token(role: string, extra: Record<string, unknown> = {}) {
    const res = await h.api<{ token: string; id: string; expiresAt: string | null }>('POST', '/v1/tokens', {
      user: `${role}-${Math.random().toString(36).slice(2, 8)}`,
      role,
      ...extra,
    })
    expect(res.status).toBe(201)
    return res.body
  }
  const listed = async (id: string) =>
    (await h.api<TokenInfo[]>('GET', '/v1/tokens')).body.find((t) => t.id === id)

  beforeAll(async () => {
    dependent = await planDependent('stubborn-api')
    server = await stubbornDependent(dependent.port, 'stuck-dek')
    const config = `keys:${keyYaml({ id: 'life-dek', algorithm: 'aes-256-gcm', dependents: [] })}${keyYaml({
      id: 'stuck-dek',
      algorithm: 'aes-256-gcm',
      dependents: [dependent],
      policy: '{ gracePeriod: 1h, phaseTimeout: 1s }',
    })}`
    h = await startHarness(dialect, config, { secrets: secretsOf([dependent]) })
    cliEnv = { KEYROTOR_URL: h.url, KEYROTOR_TOKEN: h.adminToken }
  })
  afterAll(async () => {
    await h?.stop()
    await new Promise((resolve) => server?.close(resolve))
  })

  it('refuses a token with 401 on the first request after it expires', async () => {
    // an absolute time: expiresIn takes nothing under a minute
    const { token: viewer, expiresAt } = await token('viewer', {
      expiresAt: new Date(Date.now() + 3000).toISOString(),
    })
    expect(expiresAt).not.toBeNull()
    expect((await h.api('GET', '/v1/halt', undefined, viewer)).status).toBe(200)
    await sleep(Math.max(0, Date.parse(expiresAt as string) - Date.now()) + 50)
    const after = await h.api<Problem>('GET', '/v1/halt', undefined, viewer)
    expect([after.status, after.body.code]).toEqual([401, 'UNAUTHENTICATED'])
  })

  it('creates a token expiring 30 days out with `tokens create --expires-in 30d`', async () => {
    const before = Date.now()
    const result = await runCliProcess(
      ['tokens', 'create', '--user', 'cli-viewer', '--role', 'viewer', '--expires-in', '30d', '--json'],
      cliEnv,
    )
    expect(result.code).toBe(0)
    const created = JSON.parse(result.stdout) as { token: string; id: string; expiresAt: string }
    const thirtyDays = 30 * 86_400_000
    expect(Date.parse(created.expiresAt)).toBeGreaterThanOrEqual(before + thirtyDays)
    expect(Date.parse(created.expiresAt)).toBeLessThanOrEqual(Date.now() + thirtyDays)
    expect((await listed(created.id))?.expiresAt).toBe(created.expiresAt)
    expect((await h.api('GET', '/v1/keys', undefined, created.token)).status).toBe(200)
  })

  it('refuses a malformed --expires-in as bad usage (exit 2) without creating a token', async () => {
    const count = (await h.api<TokenInfo[]>('GET', '/v1/tokens')).body.length
    const result = await runCliProcess(
      ['tokens', 'create', '--user', 'typo', '--role', 'viewer', '--expires-in', 'soon'],
      cliEnv,
    )
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('soon')
    expect((await h.api<TokenInfo[]>('GET', '/v1/tokens')).body).toHaveLength(count)
  })

  it('refuses expiresIn together with expiresAt, and a lifetime of zero or under a minute, with 400', async () => {
    const both = await h.api<Problem>('POST', '/v1/tokens', {
      user: 'x',
      role: 'viewer',
      expiresIn: '1h',
      expiresAt: new Date(Date.now() + 7_200_000).toISOString(),
    })
    expect([both.status, both.body.detail]).toEqual([400, expect.stringContaining('expiresIn')])
    const zero = await h.api<Problem>('POST', '/v1/tokens', { user: 'x', role: 'viewer', expiresIn: '0s' })
    expect([zero.status, zero.body.detail]).toEqual([400, expect.stringContaining('shorter than 1m')])
    const short = await h.api<Problem>('POST', '/v1/tokens', { user: 'x', role: 'viewer', expiresIn: '59s' })
    expect([short.status, short.body.detail]).toEqual([400, 'expiresIn: "59s" is shorter than 1m'])
  })

  it('refuses a revoked token with 401 on the very next request', async () => {
    const { token: operator, id } = await token('operator')
    expect((await h.api('GET', '/v1/runs', undefined, operator)).status).toBe(200)
    expect((await h.api('POST', `/v1/tokens/${id}/revoke`)).status).toBe(200)
    const next = await h.api<Problem>('GET', '/v1/runs', undefined, operator)
    expect([next.status, next.body.code]).toEqual([401, 'UNAUTHENTICATED'])
  })

  it('lists a fresh token as never used, then with the time of its first use', async () => {
    const { token: viewer, id } = await token('viewer')
    expect((await listed(id))?.lastUsedAt).toBeNull()
    const fresh = await runCliProcess(['tokens', 'list'], cliEnv)
    const freshLine = fresh.stdout.split('\n').find((l) => l.startsWith(id))
    expect(fresh.stdout.split('\n')[0]).toMatch(/EXPIRES\s+REVOKED\s+LAST USED$/)
    expect(freshLine).toMatch(/\bnever$/)

    const before = Date.now()
    expect((await h.api('GET', '/v1/alerts', undefined, viewer)).status).toBe(200)
    const usedAt = (await listed(id))?.lastUsedAt
    expect(usedAt).toEqual(expect.any(String))
    expect(Date.parse(usedAt as string)).toBeGreaterThanOrEqual(before - 5)
    const used = await runCliProcess(['tokens', 'list'], cliEnv)
    expect(used.stdout.split('\n').find((l) => l.startsWith(id))).toMatch(
      new RegExp(`${(usedAt as string).replace(/\./g, '\\.')}$`),
    )
  })

  it('refuses to engage the halt without a reason with 400 naming the field', async () => {
    const { token: security } = await token('security')
    for (const body of [{}, { reason: '' }]) {
      const res = await h.api<Problem>('POST', '/v1/halt', body, security)
      expect([res.status, res.body.detail]).toEqual([400, expect.stringContaining('reason')])
    }
    expect((await h.api<{ engaged: boolean }>('GET', '/v1/halt')).body.engaged).toBe(false)
  })

  it('refuses an emergency rotation without a reason with 400 naming the field', async () => {
    const without = await h.api<Problem>('POST', '/v1/keys/life-dek/rotations', { emergency: true })
    const blank = await h.api<Problem>('POST', '/v1/keys/life-dek/rotations', {
      emergency: true,
      reason: '  ',
    })
    const withReason = await h.api<Problem>('POST', '/v1/keys/life-dek/rotations', {
      emergency: true,
      reason: 'suspected leak',
    })
    // with a reason it is accepted (it waits for a security approval): the refusal is the reason's
    expect(withReason.status).toBe(201)
    for (const res of [without, blank]) {
      expect([res.status, res.body.detail]).toEqual([400, expect.stringContaining('reason')])
    }
  })

  it('refuses a forward correction without a reason with 400 naming the field', async () => {
    // a rotation stopped past promote: the stubborn dependent never confirms, the halt engages
    const run = await h.api<RunView>('POST', '/v1/keys/stuck-dek/rotations', {})
    expect(run.status).toBe(201)
    expect((await waitForRun<RunView>(h, run.body.id)).state).toBe('halted')
    for (const body of [{}, { reason: '' }]) {
      const res = await h.api<Problem>('POST', '/v1/keys/stuck-dek/forward-corrections', body)
      expect([res.status, res.body.detail]).toEqual([400, expect.stringContaining('reason')])
    }
    const corrections = (await h.api<RunView[]>('GET', '/v1/runs?key=stuck-dek')).body
    expect(corrections.filter((r) => r.kind === 'forward-correct')).toEqual([])
  })

  it('refuses a config proposal without a summary with 400 naming the field', async () => {
    const res = await h.api<Problem>('POST', '/v1/config/proposals', {
      config: 'keys: []\n',
      rollbackPlan: 'propose the previous version again',
    })
    expect([res.status, res.body.detail]).toEqual([400, expect.stringContaining('summary')])
  })
})
