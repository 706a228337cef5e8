import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunView } from '../src/engine/views.js'
import { ROLES } from '../src/domain/roles.js'
import { startHarness, type Harness } from './helpers/harness.js'
import { request } from './helpers/http.js'
import { keyYaml, planDependent, type PlannedDependent } from './helpers/sample-dependents.js'
import { createSofthsm, SOFTHSM_MODULE, softhsmAvailable } from './helpers/softhsm.js'
import { DIALECTS, TEST_DATABASE_URL } from './helpers/stores.js'

// Keys on an HSM too (SoftHSM2): their material never leaves the token, so what could leak is the
// token's PINs; they are canaries like the rest. The token exists before any server starts.
const HSM_TOKEN = {
  label: 'hygiene',
  pin: `canary-hsm-pin-${randomBytes(12).toString('base64url')}`,
  soPin: `canary-hsm-so-pin-${randomBytes(12).toString('base64url')}`,
}
const hsm = softhsmAvailable() ? createSofthsm([HSM_TOKEN]) : undefined
if (hsm !== undefined) process.env.HYGIENE_HSM_PIN = HSM_TOKEN.pin
afterAll(() => hsm?.dispose())

/** A secret the test planted or was handed, and where it is allowed to show up. */
interface Canary {
  name: string
  value: string
  /** Also searched as the bytes a base64url value stands for (key material). */
  raw?: Buffer
  /** Responses (by index) that are supposed to carry it; everywhere else is a leak. */
  expectedIn: Set<number>
}

/** Every form a secret could be written in: as text, base64, base64url and hex of its bytes. */
function formsOf(canary: Canary): Buffer[] {
  const sources = [Buffer.from(canary.value, 'utf8'), ...(canary.raw === undefined ? [] : [canary.raw])]
  return sources.flatMap((bytes) => [
    bytes,
    Buffer.from(bytes.toString('base64')),
    Buffer.from(bytes.toString('base64url')),
    Buffer.from(bytes.toString('hex')),
    Buffer.from(bytes.toString('hex').toUpperCase()),
  ])
}

/**
 * A dependent that follows the notices: it accepts what was staged, switches on promote and lets
 * go on retire. With `stubborn`, it never switches, so confirm times out (a partial execution).
 */
function followerDependent(port: number, key: string, options: { stubborn?: boolean } = {}): Promise<Server> {
  let accepts = [1]
  let active = 1
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      response.setHeader('content-type', 'application/json')
      if (request.url?.endsWith('/probe') === true) {
        response.end(JSON.stringify({ key, accepts, active }))
        return
      }
      const notice = JSON.parse(body) as { event: string; version: number }
      if (notice.event === 'key.version.staged') accepts = [...new Set([...accepts, notice.version])]
      if (notice.event === 'key.version.promoted' && options.stubborn !== true) active = notice.version
      if (notice.event === 'key.version.retired') accepts = accepts.filter((v) => v !== notice.version)
      response.end('{}')
    })
  })
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)))
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.each(DIALECTS)('secrets hygiene on %s', (dialect) => {
  // the HSM key joins the SQLite session only: on PostgreSQL the extra key's work slowed the
  // session enough for the other keys' 1s grace period to revoke v1 before its material fetch
  const onHsm = hsm !== undefined && dialect === 'sqlite'
  const hsmKey = `hyg-hsm-${dialect}`
  let h: Harness
  let logFile: string
  const servers: Server[] = []
  const canaries: Canary[] = []
  /** Every response and error body of the session, in order. */
  const responses: { what: string; body: string }[] = []

  async function call<T>(
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<{ status: number; body: T; index: number }> {
    const response = await request<T>(h.url, { method, path, token, body })
    responses.push({ what: `${method} ${path} → ${response.status}`, body: response.text })
    return { status: response.status, body: response.body, index: responses.length - 1 }
  }

  async function untilRunEnds(id: string, token: string): Promise<RunView> {
    return (await call<RunView>('GET', `/v1/runs/${id}?wait=30s`, token)).body
  }

  beforeAll(async () => {
    logFile = join(tmpdir(), `keyrotor-hygiene-${process.pid}-${dialect}.log`)
    const plan = async (name: string, key: string, stubborn = false) => {
      const d = await planDependent(name)
      servers.push(await followerDependent(d.port, key, { stubborn }))
      return { ...d, secret: `canary-webhook-${name}-${randomBytes(18).toString('base64url')}` }
    }
    const deps: Record<string, PlannedDependent> = {
      dek: await plan('dek-app', 'hyg-dek'),
      jwt: await plan('jwt-app', 'hyg-jwt'),
      stuck: await plan('stuck-app', 'stuck-dek', true),
    }
    for (const d of Object.values(deps))
      canaries.push({ name: `webhook secret ${d.secretEnv}`, value: d.secret, expectedIn: new Set() })
    const policy = '{ gracePeriod: 1s, phaseTimeout: 2s, jwksMaxAge: 0s }'
    let hsmYaml = ''
    if (onHsm) {
      canaries.push({ name: 'HSM user PIN', value: HSM_TOKEN.pin, expectedIn: new Set() })
      canaries.push({ name: 'HSM SO PIN', value: HSM_TOKEN.soPin, expectedIn: new Set() })
      hsmYaml = keyYaml({
        id: hsmKey,
        algorithm: 'ec-p256',
        dependents: [],
        policy,
      }).replace('provider: local', 'provider: hsm')
    }
    const providers = !onHsm
      ? ''
      : `providers:\n  hsm: { type: pkcs11, module: ${SOFTHSM_MODULE}, tokenLabel: ${HSM_TOKEN.label}, pinEnv: HYGIENE_HSM_PIN }\n`
    const config = `${providers}keys:${hsmYaml}${keyYaml({ id: 'hyg-dek', algorithm: 'aes-256-gcm', dependents: [deps.dek as PlannedDependent], policy })}${keyYaml({ id: 'hyg-jwt', algorithm: 'ec-p256', dependents: [deps.jwt as PlannedDependent], policy })}${keyYaml({ id: 'stuck-dek', algorithm: 'aes-256-gcm', dependents: [deps.stuck as PlannedDependent], policy: '{ gracePeriod: 1h, phaseTimeout: 1s }' })}`
    h = await startHarness(dialect, config, {
      secrets: Object.fromEntries(Object.values(deps).map((d) => [d.secretEnv, d.secret])),
      logLevel: 'debug',
      logFile,
    })
    canaries.push({ name: 'admin token', value: h.adminToken, expectedIn: new Set() })
    await runSession()
  })
  afterAll(async () => {
    await h?.stop()
    for (const s of servers) await new Promise((resolve) => s.close(resolve))
  })

  /** A realistic session: tokens, material, rotations, a failed one, alerts, approvals, verify, halt. */
  async function runSession(): Promise<void> {
    const admin = h.adminToken
    const token: Record<string, string> = {}
    for (const [name, role, key] of [
      ...ROLES.filter((r) => r !== 'consumer').map((r) => [r, r, undefined] as const),
      ['second-security', 'security', undefined] as const,
      ['dek-consumer', 'consumer', 'hyg-dek'] as const,
      ['jwt-consumer', 'consumer', 'hyg-jwt'] as const,
      ['short-lived', 'viewer', undefined] as const,
    ]) {
      const res = await call<{ token: string }>('POST', '/v1/tokens', admin, {
        user: name,
        role,
        ...(key === undefined ? {} : { key }),
        ...(name === 'short-lived' ? { expiresIn: '1h' } : {}),
      })
      expect(res.status).toBe(201)
      token[name] = res.body.token
      canaries.push({ name: `${name} token`, value: res.body.token, expectedIn: new Set([res.index]) })
    }
    const t = (name: string) => token[name] as string
    const fetchMaterial = async (key: string, version: number, consumer: string) => {
      const res = await call<Record<string, string>>(
        'GET',
        `/v1/keys/${key}/versions/${version}/material`,
        t(consumer),
      )
      expect(res.status).toBe(200)
      for (const member of ['k', 'd'] as const) {
        const value = res.body[member]
        if (value === undefined) continue
        const known = canaries.find((c) => c.value === value)
        if (known !== undefined) known.expectedIn.add(res.index)
        else
          canaries.push({
            name: `${key} v${version} material ${member}`,
            value,
            raw: Buffer.from(value, 'base64url'),
            expectedIn: new Set([res.index]),
          })
      }
    }

    await fetchMaterial('hyg-dek', 1, 'dek-consumer')
    await fetchMaterial('hyg-jwt', 1, 'jwt-consumer')
    if (onHsm) {
      // the HSM key's rotation and revoke end before the others start: the material fetches
      // below race the 1s grace period of those keys and must not share the worker with it
      const run = await call<RunView>('POST', `/v1/keys/${hsmKey}/rotations`, t('operator'), {
        reason: 'quarterly',
      })
      expect(run.status).toBe(201)
      expect((await untilRunEnds(run.body.id, t('viewer'))).state).toBe('succeeded')
      let revoke: RunView | undefined
      for (let i = 0; i < 100 && revoke === undefined; i++) {
        await sleep(100)
        revoke = (await call<RunView[]>('GET', `/v1/runs?key=${hsmKey}`, t('viewer'))).body.find(
          (r) => r.kind === 'revoke',
        )
      }
      expect((await untilRunEnds(revoke?.id ?? 'none', t('viewer'))).state).toBe('succeeded')
    }
    for (const key of ['hyg-dek', 'hyg-jwt']) {
      const run = await call<RunView>('POST', `/v1/keys/${key}/rotations`, t('operator'), {
        reason: 'quarterly',
        idempotencyKey: `hyg-${key}`,
      })
      expect(run.status).toBe(201)
      expect((await untilRunEnds(run.body.id, t('viewer'))).state).toBe('succeeded')
    }
    await fetchMaterial('hyg-dek', 2, 'dek-consumer')
    await fetchMaterial('hyg-jwt', 2, 'jwt-consumer')
    await fetchMaterial('hyg-dek', 1, 'dek-consumer')
    // the grace period (1s) passes: the old versions are revoked by the engine's own revoke runs
    await sleep(2500)
    for (const key of ['hyg-dek', 'hyg-jwt']) {
      const runs = (await call<RunView[]>('GET', `/v1/runs?key=${key}`, t('viewer'))).body
      for (const r of runs) await untilRunEnds(r.id, t('viewer'))
    }
    // error bodies: a disabled version's material, another key's material, unknown things
    await call('GET', '/v1/keys/hyg-dek/versions/1/material', t('dek-consumer'))
    await call('GET', '/v1/keys/hyg-jwt/versions/2/material', t('dek-consumer'))
    await call('GET', '/v1/keys/hyg-dek/versions/9/material', t('dek-consumer'))
    await call('GET', '/v1/runs/run_nope', t('viewer'))
    await call('POST', '/v1/tokens', t('operator'), { user: 'sneaky', role: 'admin' })
    await call('POST', '/v1/tokens', admin, { user: 'bad', role: 'consumer', key: 'no-such-key' })
    await call('GET', '/v1/keys', `${t('viewer')}x`)
    await call('GET', '/v1/keys/hyg-jwt/jwks.json', '')
    await call('POST', '/v1/keys/hyg-dek/verify', t('operator'), {})
    await call('POST', '/v1/verify', t('operator'), {})

    // a failed rotation: promoted, never confirmed, so the engine halts everything
    const stuck = await call<RunView>('POST', '/v1/keys/stuck-dek/rotations', t('operator'), {
      reason: 'routine',
    })
    const stopped = await untilRunEnds(stuck.body.id, t('viewer'))
    expect(stopped.state).toBe('halted')
    const alerts = (await call<{ id: string }[]>('GET', '/v1/alerts', t('viewer'))).body
    expect(alerts.length).toBeGreaterThan(0)
    await call('POST', `/v1/alerts/${alerts[0]?.id ?? 'none'}/ack`, t('operator'))
    await call('GET', '/v1/incidents', t('viewer'))
    await call('GET', `/v1/timeline/${stopped.correlationId}`, t('viewer'))
    await call('POST', `/v1/runs/${stopped.id}/verify`, t('operator'))
    await call('POST', `/v1/runs/${stopped.id}/retry`, t('operator'))
    await call('GET', '/v1/halt', t('viewer'))
    await call('POST', '/v1/halt', t('security'), { reason: 'already halted' })
    // the approved recovery: an operator asks, a security person approves
    const correction = await call<RunView>('POST', '/v1/keys/stuck-dek/forward-corrections', t('operator'), {
      reason: 'finish the promotion',
    })
    const approvals = (await call<{ id: string; state: string }[]>('GET', '/v1/approvals', t('viewer'))).body
    for (const a of approvals.filter((x) => x.state === 'pending')) {
      await call('POST', `/v1/approvals/${a.id}/approve`, t('operator'))
      await call('POST', `/v1/approvals/${a.id}/approve`, t('security'), {})
    }
    if (correction.status < 300) await untilRunEnds(correction.body.id, t('viewer'))
    await call('POST', '/v1/halt/release', t('security'), { reason: 'all verified' })
    await call('POST', '/v1/approvals/apr_nope/reject', t('security'), { reason: 'nope' })

    // revocation, then the revoked token tries again
    const listed = (await call<{ id: string; user: string }[]>('GET', '/v1/tokens', admin)).body
    const shortLived = listed.find((x) => x.user === 'short-lived')
    await call('POST', `/v1/tokens/${shortLived?.id ?? 'none'}/revoke`, admin)
    await call('GET', '/v1/keys', t('short-lived'))
    for (const path of [
      '/v1/keys',
      '/v1/runs',
      '/v1/config',
      '/v1/audit',
      '/v1/audit/verify',
      '/openapi.json',
      '/metrics',
      '/healthz',
      '/readyz',
    ]) {
      await call('GET', path, t('security'))
    }
    await call('GET', '/v1/keys/hyg-jwt/jwks.json', t('viewer'))
    if (onHsm) {
      await call('GET', `/v1/keys/${hsmKey}/jwks.json`, t('viewer'))
      await call('GET', `/v1/keys/${hsmKey}`, t('viewer'))
      await call('POST', `/v1/keys/${hsmKey}/verify`, t('operator'), {})
    }
  }

  function hitsIn(bytes: Buffer): Canary[] {
    return canaries.filter((c) => formsOf(c).some((form) => bytes.includes(form)))
  }

  it('planted webhook secrets, tokens and material as canaries, and ran a session that used them', () => {
    const names = canaries.map((c) => c.name)
    expect(names.filter((n) => n.startsWith('webhook secret'))).toHaveLength(3)
    expect(names.filter((n) => n.endsWith(' token'))).toHaveLength(9)
    // aes k of v1 and v2, ec d of v1 and v2
    expect(names.filter((n) => n.includes('material'))).toHaveLength(4)
    if (onHsm) expect(names.filter((n) => n.startsWith('HSM '))).toHaveLength(2)
    expect(responses.length).toBeGreaterThan(50)
    console.info(`secrets hygiene on ${dialect}: ${canaries.length} canaries, ${responses.length} responses`)
  })

  it('shows a token only in its create response and material only in material responses', () => {
    const misplaced: string[] = []
    for (const canary of canaries) {
      const forms = formsOf(canary)
      const found = responses.flatMap((r, i) =>
        forms.some((f) => Buffer.from(r.body).includes(f)) ? [i] : [],
      )
      const unexpected = found.filter((i) => !canary.expectedIn.has(i))
      const missing = [...canary.expectedIn].filter((i) => !found.includes(i))
      for (const i of unexpected) misplaced.push(`${canary.name} in ${responses[i]?.what}`)
      for (const i of missing) misplaced.push(`${canary.name} missing from ${responses[i]?.what}`)
    }
    expect(misplaced).toEqual([])
  })

  it('finds no canary in any row of any table of the store', async () => {
    const leaks: string[] = []
    let rows = 0
    if (dialect === 'sqlite') {
      const db = h.keyrotor.store.db
      const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(
        db,
      )
      for (const { name } of tables.rows) {
        const result = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(db)
        for (const row of result.rows) {
          rows += 1
          for (const [column, value] of Object.entries(row)) {
            const bytes = Buffer.isBuffer(value) ? value : Buffer.from(String(value))
            for (const c of hitsIn(bytes)) leaks.push(`${c.name} in ${name}.${column}`)
          }
        }
      }
    } else {
      const schema = h.storeOptions.schema as string
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
      await client.connect()
      try {
        const tables = await client.query<{ table_name: string }>(
          'select table_name from information_schema.tables where table_schema = $1',
          [schema],
        )
        for (const { table_name: name } of tables.rows) {
          // the whole row as PostgreSQL's text form: every column, bytea as \x hex
          const result = await client.query<{ row: string }>(
            `select t::text as row from "${schema}"."${name}" t`,
          )
          for (const { row } of result.rows) {
            rows += 1
            for (const c of hitsIn(Buffer.from(row))) leaks.push(`${c.name} in ${name}`)
          }
        }
      } finally {
        await client.end()
      }
    }
    expect(rows).toBeGreaterThan(100)
    expect(leaks).toEqual([])
    console.info(`secrets hygiene on ${dialect}: ${rows} rows scanned`)
  })

  it('finds no canary in any log line or any file of the data dir', async () => {
    // closing flushes the log and lets SQLite checkpoint; every file is read as raw bytes
    await h.keyrotor.close()
    h.keyrotor.close = async () => {}
    const files = filesUnder(h.dataDir)
    const leaks: string[] = []
    for (const file of files) {
      for (const c of hitsIn(readFileSync(file))) leaks.push(`${c.name} in ${relative(h.dataDir, file)}`)
    }
    const lines = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
    for (const [i, line] of lines.entries()) {
      for (const c of hitsIn(Buffer.from(line)))
        leaks.push(`${c.name} in log line ${i + 1}: ${line.slice(0, 160)}`)
    }
    expect(leaks).toEqual([])
    expect(lines.length).toBeGreaterThan(50)
    expect(files.length).toBeGreaterThan(0)
    console.info(`secrets hygiene on ${dialect}: ${lines.length} log lines, ${files.length} files`)
  })

  it('would find a planted canary: the scan is not blind', () => {
    const canary = canaries.find((c) => c.raw !== undefined) as Canary
    expect(hitsIn(Buffer.from(`{"leak":"${canary.value}"}`))).toContain(canary)
    expect(hitsIn(Buffer.concat([Buffer.from('x'), canary.raw as Buffer]))).toContain(canary)
    expect(hitsIn(Buffer.from((canary.raw as Buffer).toString('hex')))).toContain(canary)
  })
})

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })
}
