import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuditLog } from '../src/audit/audit-log.js'
import { createTokenStore } from '../src/governance/tokens.js'
import { createHttpApp } from '../src/http/app.js'
import { assertKeyBinding } from '../src/http/auth.js'
import { createHaltReader } from '../src/http/routes/halt.js'
import { storeAnswers } from '../src/http/routes/health.js'
import { createAlertService } from '../src/observability/alerts.js'
import { createLogger } from '../src/observability/logger.js'
import { createMetrics } from '../src/observability/metrics.js'
import { createTestStore, DIALECTS, type TestStore } from './helpers/stores.js'

/** Extra plugins the lead would pass: they prove the seams (fail closed, 500s, text bodies). */
const extraRoutes: FastifyPluginAsync = async (app) => {
  app.get('/v1/undeclared', async () => ({ leaked: true }))
  app.get('/v1/boom', { config: { action: 'public' } }, async () => {
    throw new Error('pg password=hunter2 at /var/lib/internal')
  })
  app.post('/v1/echo', { config: { action: 'public' } }, async (request) => ({ kind: typeof request.body }))
}

describe.each(DIALECTS)('HTTP edge on %s', (dialect) => {
  let store: TestStore
  let app: FastifyInstance
  let logLines: string[]
  let admin: string
  let viewer: string
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
  const auditRows = (action: string) =>
    store.db.selectFrom('audit_events').selectAll().where('action', '=', action).orderBy('seq').execute()

  beforeAll(async () => {
    store = await createTestStore(dialect)
    logLines = []
    const logger = createLogger({
      level: 'info',
      destination: { write: (line: string) => void logLines.push(line) },
    })
    const tokens = createTokenStore(store.db)
    admin = (await tokens.create({ user: 'root', role: 'admin', createdBy: 'test' })).token
    viewer = (await tokens.create({ user: 'vera', role: 'viewer', createdBy: 'test' })).token
    await store.db
      .insertInto('keys')
      .values({
        id: 'payments-dek',
        provider: 'local',
        algorithm: 'aes-256-gcm',
        owner: 'payments',
        policy: '{}',
        created_at: '2026-01-01T00:00:00.000Z',
        updated_at: '2026-01-01T00:00:00.000Z',
      })
      .execute()
    app = createHttpApp({
      logger,
      db: store.db,
      tokenStore: (db) => createTokenStore(db),
      audit: createAuditLog(),
      alerts: createAlertService({ db: store.db }),
      halt: createHaltReader(store.db),
      metrics: createMetrics({ defaultMetrics: false }),
      ready: storeAnswers(store.db),
      routes: [extraRoutes],
    })
    await app.ready()
  })
  afterAll(async () => {
    await app?.close()
    await store?.dispose()
  })

  it('serves healthz, readyz, metrics and the OpenAPI document without a token', async () => {
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' })
    const ready = await app.inject({ url: '/readyz' })
    expect([ready.statusCode, ready.json()]).toEqual([200, { status: 'ready' }])
    const metrics = await app.inject({ url: '/metrics' })
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/)
    expect(metrics.body).toContain('keyrotor_halt_engaged 0')
    const openapi = (await app.inject({ url: '/openapi.json' })).json()
    expect(openapi.openapi).toBe('3.1.0')
    expect(openapi.paths['/v1/tokens/{id}/revoke'].post['x-keyrotor-action']).toBe('tokens.manage')
    expect(openapi.paths['/v1/tokens/{id}/revoke'].post.parameters[0]).toMatchObject({
      name: 'id',
      in: 'path',
    })
    expect(openapi.paths['/healthz'].get.security).toEqual([])
    expect(openapi.paths['/v1/halt'].get.head).toBeUndefined()
  })

  it('answers readyz with 503 when the store does not answer', async () => {
    const broken = createHttpApp({
      logger: createLogger({ level: 'silent' }),
      db: store.db,
      tokenStore: (db) => createTokenStore(db),
      audit: createAuditLog(),
      alerts: createAlertService({ db: store.db }),
      halt: createHaltReader(store.db),
      metrics: createMetrics({ defaultMetrics: false }),
      ready: async () => {
        throw new Error('connection refused')
      },
    })
    const response = await broken.inject({ url: '/readyz' })
    await broken.close()
    expect([response.statusCode, response.json()]).toEqual([
      503,
      { status: 'not_ready', reasons: ['store: connection refused'] },
    ])
  })

  it('refuses a v1 route without a token with a 401 problem carrying code and correlation id', async () => {
    const response = await app.inject({ url: '/v1/alerts' })
    expect(response.statusCode).toBe(401)
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
    const problem = response.json()
    expect(problem).toMatchObject({
      type: 'https://keyrotor.dev/problems/unauthenticated',
      status: 401,
      code: 'UNAUTHENTICATED',
    })
    expect(problem.correlationId).toBe(response.headers['x-correlation-id'])
    const denials = await auditRows('auth.denied')
    expect(denials.some((d) => d.correlation_id === problem.correlationId && d.actor === 'anonymous')).toBe(
      true,
    )
  })

  it('refuses a viewer creating a token with a 403 naming role and action, logged and audited', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: bearer(viewer),
      payload: { user: 'x', role: 'admin' },
    })
    expect(response.statusCode).toBe(403)
    const problem = response.json()
    expect(problem.code).toBe('FORBIDDEN')
    expect(problem.detail).toContain('viewer')
    expect(problem.detail).toContain('tokens.manage')
    const denial = (await auditRows('auth.denied')).find((d) => d.correlation_id === problem.correlationId)
    expect(denial).toMatchObject({ actor: 'vera', target: 'POST /v1/tokens' })
    expect(logLines.some((l) => l.includes('access denied') && l.includes(problem.correlationId))).toBe(true)
    expect(await store.db.selectFrom('tokens').select('id').where('user_name', '=', 'x').execute()).toEqual(
      [],
    )
  })

  it('lets an admin create a consumer token bound to a key, which then authenticates', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: bearer(admin),
      payload: { user: 'payments-api', role: 'consumer', key: 'payments-dek' },
    })
    expect(response.statusCode).toBe(201)
    const { token, id } = response.json()
    const principal = await createTokenStore(store.db).authenticate(token)
    expect(principal).toEqual({
      id,
      user: 'payments-api',
      role: 'consumer',
      keyId: 'payments-dek',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    })
    expect(() => assertKeyBinding(principal!, 'payments-dek')).not.toThrow()
    expect(() => assertKeyBinding(principal!, 'other-key')).toThrow(/bound to key payments-dek/)
    const [created] = await auditRows('tokens.create')
    expect(created).toMatchObject({ actor: 'root', target: id })
    expect(JSON.stringify(created)).not.toContain(token)
    expect(logLines.join('')).not.toContain(token)
    // a consumer may fetch its material, nothing else
    expect((await app.inject({ url: '/v1/alerts', headers: bearer(token) })).statusCode).toBe(403)
  })

  it('lists tokens without secrets and refuses a revoked token with 401', async () => {
    const { token, id } = (
      await app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: bearer(admin),
        payload: { user: 'tmp', role: 'viewer' },
      })
    ).json()
    expect((await app.inject({ url: '/v1/halt', headers: bearer(token) })).json()).toEqual({
      engaged: false,
      reason: null,
      by: null,
      since: null,
    })
    const listed = (await app.inject({ url: '/v1/tokens', headers: bearer(admin) })).json()
    expect(listed.find((t: { id: string }) => t.id === id)).toMatchObject({
      user: 'tmp',
      role: 'viewer',
      revokedAt: null,
    })
    expect(JSON.stringify(listed)).not.toMatch(/kr_[A-Za-z0-9_-]{43}|hash/)
    const revoked = await app.inject({
      method: 'POST',
      url: `/v1/tokens/${id}/revoke`,
      headers: bearer(admin),
    })
    expect(revoked.json().revokedAt).toEqual(expect.any(String))
    expect((await app.inject({ url: '/v1/halt', headers: bearer(token) })).statusCode).toBe(401)
  })

  it('answers an unknown route with a 404 problem, token or not', async () => {
    for (const headers of [{}, bearer(admin)]) {
      const response = await app.inject({ url: '/v1/nothing-here?x=1', headers })
      expect(response.statusCode).toBe(404)
      expect(response.json()).toMatchObject({ code: 'NOT_FOUND', detail: 'no route GET /v1/nothing-here' })
    }
  })

  it('echoes a well-formed X-Correlation-Id and replaces a malformed one', async () => {
    const given = await app.inject({ url: '/healthz', headers: { 'x-correlation-id': 'ctm-order-4711' } })
    expect(given.headers['x-correlation-id']).toBe('ctm-order-4711')
    const malformed = await app.inject({
      url: '/v1/alerts',
      headers: { 'x-correlation-id': 'bad id\u0001{}' },
    })
    expect(malformed.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/)
    expect(malformed.json().correlationId).toBe(malformed.headers['x-correlation-id'])
  })

  it('answers a schema violation with a 400 BAD_REQUEST naming the field', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: bearer(admin),
      payload: { user: 'x' },
    })
    expect(response.statusCode).toBe(400)
    const problem = response.json()
    expect(problem.code).toBe('BAD_REQUEST')
    expect(problem.detail).toContain('role')
    expect(problem.errors).toEqual([expect.objectContaining({ in: 'body', path: 'role' })])
  })

  it('answers an unexpected error with a generic 500 and keeps the details in the log', async () => {
    const response = await app.inject({ url: '/v1/boom' })
    expect(response.statusCode).toBe(500)
    expect(response.json().code).toBe('INTERNAL')
    expect(response.body).not.toContain('hunter2')
    expect(
      logLines.some((l) => l.includes('/var/lib/internal') && l.includes(response.json().correlationId)),
    ).toBe(true)
  })

  it('refuses a route that declares no action, even to an admin', async () => {
    const response = await app.inject({ url: '/v1/undeclared', headers: bearer(admin) })
    expect(response.statusCode).toBe(403)
    expect(response.body).not.toContain('leaked')
  })

  it('takes YAML bodies as text and refuses bodies over 1 MiB with 413', async () => {
    const yaml = await app.inject({
      method: 'POST',
      url: '/v1/echo',
      headers: { 'content-type': 'application/yaml' },
      payload: 'keys: []\n',
    })
    expect(yaml.json()).toEqual({ kind: 'string' })
    const big = await app.inject({
      method: 'POST',
      url: '/v1/echo',
      headers: { 'content-type': 'text/plain' },
      payload: 'x'.repeat(1024 * 1024 + 1),
    })
    expect([big.statusCode, big.json().code]).toEqual([413, 'BAD_REQUEST'])
  })

  it('lets an operator acknowledge an alert, audited, and refuses a viewer', async () => {
    const alert = await createAlertService({ db: store.db }).raise(store.db, {
      type: 'rotation_failed',
      severity: 'critical',
      key: 'payments-dek',
      message: 'create failed',
    })
    const operator = (
      await createTokenStore(store.db).create({ user: 'olga', role: 'operator', createdBy: 'test' })
    ).token
    expect(
      (await app.inject({ method: 'POST', url: `/v1/alerts/${alert.id}/ack`, headers: bearer(viewer) }))
        .statusCode,
    ).toBe(403)
    const acked = await app.inject({
      method: 'POST',
      url: `/v1/alerts/${alert.id}/ack`,
      headers: bearer(operator),
    })
    expect(acked.json()).toMatchObject({ id: alert.id, state: 'acknowledged', count: 1 })
    expect(await auditRows('alerts.ack')).toEqual([
      expect.objectContaining({ actor: 'olga', target: alert.id }),
    ])
    const open = (await app.inject({ url: '/v1/alerts?state=open', headers: bearer(viewer) })).json()
    expect(open.map((a: { id: string }) => a.id)).not.toContain(alert.id)
    expect((await app.inject({ url: '/v1/alerts?state=bogus', headers: bearer(viewer) })).statusCode).toBe(
      400,
    )
  })
})
