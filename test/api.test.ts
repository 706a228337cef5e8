import { createServer, type Server } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startDataKeyService } from '../src/demo/sample-services.js'
import type { RunView } from '../src/engine/views.js'
import { startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { keyYaml, planDependent, secretsOf, type PlannedDependent } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

interface Problem {
  status: number
  code: string
  detail: string
  correlationId: string
}

describe.each(DIALECTS)('the HTTP API on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function setup(deps: PlannedDependent[] = []) {
    const config = `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: deps })}${keyYaml({ id: 'other-dek', algorithm: 'aes-256-gcm', dependents: [] })}`
    const h = await startHarness(dialect, config, { secrets: secretsOf(deps) })
    cleanups.push(() => h.stop())
    return h
  }

  async function tokenFor(h: Harness, role: string, key?: string): Promise<string> {
    const res = await h.api<{ token: string }>('POST', '/v1/tokens', {
      user: `${role}-user`,
      role,
      ...(key === undefined ? {} : { key }),
    })
    expect(res.status).toBe(201)
    return res.body.token
  }

  it('answers an unknown key with 404 UNKNOWN_KEY naming it', async () => {
    const h = await setup()
    const res = await h.api<Problem>('POST', '/v1/keys/no-such-key/rotations', {})
    expect(res.status).toBe(404)
    expect(res.body).toMatchObject({ code: 'UNKNOWN_KEY' })
    expect(res.body.detail).toContain('no-such-key')
  })

  it('refuses a viewer a rotation with 403 and lets it read', async () => {
    const h = await setup()
    const viewer = await tokenFor(h, 'viewer')
    expect((await h.api('GET', '/v1/keys', undefined, viewer)).status).toBe(200)
    const res = await h.api<Problem>('POST', '/v1/keys/payments-dek/rotations', {}, viewer)
    expect(res.status).toBe(403)
    expect(res.body.code).toBe('FORBIDDEN')
  })

  it('returns the existing run for a repeated idempotency key and counts the duplicate', async () => {
    const h = await setup()
    const first = await h.api<RunView>('POST', '/v1/keys/other-dek/rotations', {
      idempotencyKey: 'order-42',
      attempt: 1,
    })
    const second = await h.api<RunView>('POST', '/v1/keys/other-dek/rotations', {
      idempotencyKey: 'order-42',
      attempt: 2,
    })
    expect(first.status).toBe(201)
    expect(second.status).toBe(200)
    expect(second.body.id).toBe(first.body.id)
    expect(second.body.duplicateCount).toBe(1)
    const done = await waitForRun<RunView>(h, first.body.id)
    expect(done).toMatchObject({
      state: 'succeeded',
      idempotencyKey: 'order-42',
      attempt: 1,
      duplicateCount: 1,
    })
    const runs = (await h.api<RunView[]>('GET', '/v1/runs?key=other-dek')).body
    expect(runs).toHaveLength(1)
  })

  it('refuses a second rotation while one is running with 409 and a concurrent_rotation alert', async () => {
    const slow = await planDependent('slow-api')
    const server = await slowDependent(slow.port, 'payments-dek', 1500)
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())))
    const h = await setup([slow])
    const first = await h.api<RunView>('POST', '/v1/keys/payments-dek/rotations', {})
    const second = await h.api<Problem>('POST', '/v1/keys/payments-dek/rotations', {})
    expect(first.status).toBe(201)
    expect(second.status).toBe(409)
    expect(second.body.code).toBe('CONCURRENT_ROTATION')
    expect(second.body.detail).toContain(first.body.id)
    const alerts = (await h.api<{ type: string; runId: string | null }[]>('GET', '/v1/alerts')).body
    expect(alerts).toContainEqual(
      expect.objectContaining({ type: 'concurrent_rotation', runId: first.body.id }),
    )
  })

  it('answers 423 HALTED while the global halt is engaged', async () => {
    const h = await setup()
    // the halt API comes with the safety issue; engaging it in the store is what the engine does
    await h.keyrotor.store.db
      .updateTable('halt')
      .set({ engaged: 1, reason: 'test', engaged_by: 'test', since: new Date().toISOString() })
      .execute()
    const res = await h.api<Problem>('POST', '/v1/keys/other-dek/rotations', {})
    expect(res.status).toBe(423)
    expect(res.body.code).toBe('HALTED')
    expect((await h.api<{ engaged: boolean }>('GET', '/v1/halt')).body.engaged).toBe(true)
  })

  it('serves material only to a consumer bound to the key, and audits every fetch', async () => {
    const h = await setup()
    const bound = await tokenFor(h, 'consumer', 'payments-dek')
    const other = await tokenFor(h, 'consumer', 'other-dek')
    const ok = await h.api<{ kty: string; k: string; kid: string }>(
      'GET',
      '/v1/keys/payments-dek/versions/1/material',
      undefined,
      bound,
    )
    expect(ok.status).toBe(200)
    expect(ok.body).toMatchObject({ kty: 'oct', kid: 'payments-dek.v1' })
    expect(Buffer.from(ok.body.k, 'base64url')).toHaveLength(32)
    expect((await h.api('GET', '/v1/keys/payments-dek/versions/1/material', undefined, other)).status).toBe(
      403,
    )
    expect((await h.api('GET', '/v1/keys/payments-dek/versions/1/material')).status).toBe(403)
    const audit = await h.keyrotor.store.db
      .selectFrom('audit_events')
      .selectAll()
      .where('action', '=', 'material.fetched')
      .execute()
    expect(audit).toHaveLength(1)
    expect(audit[0]).toMatchObject({ actor: 'consumer-user', target: 'payments-dek' })
    expect(JSON.stringify(audit)).not.toContain(ok.body.k)
  })

  it('refuses the material of a disabled version with 410', async () => {
    const h = await setup()
    const bound = await tokenFor(h, 'consumer', 'payments-dek')
    const run = (await h.api<RunView>('POST', '/v1/keys/payments-dek/rotations', {})).body
    await waitForRun(h, run.id)
    // the engine's revoke phase is what disables; here the grace period is an hour, so move the state as it would
    await h.keyrotor.store.db
      .updateTable('key_versions')
      .set({ state: 'disabled' })
      .where('key_id', '=', 'payments-dek')
      .where('version', '=', 1)
      .execute()
    const res = await h.api<Problem>('GET', '/v1/keys/payments-dek/versions/1/material', undefined, bound)
    expect(res.status).toBe(410)
    expect(res.body.code).toBe('MATERIAL_UNAVAILABLE')
  })

  it('reports a changed config file at restart without applying it', async () => {
    const h = await setup()
    const changed = join(h.dataDir, 'changed.yaml')
    await h.restart({ configPath: changed }, () =>
      writeFileSync(
        changed,
        `keys:${keyYaml({ id: 'brand-new', algorithm: 'hmac-sha256', dependents: [] })}`,
      ),
    )
    const body = (await h.api<{ activeVersion: number; file: { status: string } }>('GET', '/v1/config')).body
    expect(body).toMatchObject({ activeVersion: 1, file: { status: 'differs' } })
    const keys = (await h.api<{ id: string }[]>('GET', '/v1/keys')).body
    expect(keys.map((k) => k.id)).toEqual(['other-dek', 'payments-dek'])
  })

  it('serves an empty JWKS for a symmetric key and the data key rotates for a service using the SDK', async () => {
    const dep = await planDependent('payments-api')
    const h = await setup([dep])
    expect((await h.api<{ keys: unknown[] }>('GET', '/v1/keys/payments-dek/jwks.json')).body).toEqual({
      keys: [],
    })
    const token = await tokenFor(h, 'consumer', 'payments-dek')
    const service = await startDataKeyService({
      key: 'payments-dek',
      keyrotorUrl: h.url,
      token,
      secret: dep.secret,
      port: dep.port,
    })
    cleanups.push(() => service.close())
    const run = await waitForRun<RunView>(
      h,
      (await h.api<RunView>('POST', '/v1/keys/payments-dek/rotations', {})).body.id,
    )
    expect(run.state).toBe('succeeded')
  })
})

/** A dependent whose probe answers only after `delayMs`: a rotation against it stays running. */
async function slowDependent(port: number, key: string, delayMs: number): Promise<Server> {
  const server = createServer((req, res) => {
    setTimeout(() => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ key, accepts: [1], active: 1 }))
    }, delayMs)
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return server
}
