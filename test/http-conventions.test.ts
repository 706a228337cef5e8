import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import type { RunView } from '../src/engine/views.js'
import { ERROR_CODES } from '../src/errors.js'
import { PROBLEMS, problemType } from '../src/http/problem.js'
import { startHarness, type Harness } from './helpers/harness.js'
import { keyYaml, planDependent, secretsOf, type PlannedDependent } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

describe('docs/errors.md', () => {
  const doc = readFileSync('docs/errors.md', 'utf8')

  it.each([...ERROR_CODES])('documents %s with its stable type URI and status', (code) => {
    const section = doc.split(/^## /m).find((s) => s.startsWith(`${code}\n`))
    expect(section, `docs/errors.md has no "## ${code}" section`).toBeDefined()
    expect(section).toContain(`\`${problemType(code)}\` — ${PROBLEMS[code].status} ${PROBLEMS[code].title}`)
  })
})

describe.each(DIALECTS)('standard HTTP conventions on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function setup(deps: PlannedDependent[] = []): Promise<Harness> {
    const config = `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: deps })}`
    const h = await startHarness(dialect, config, { secrets: secretsOf(deps) })
    cleanups.push(() => h.stop())
    return h
  }

  function post(h: Harness, path: string, body: unknown, headers: Record<string, string> = {}) {
    return fetch(`${h.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })
  }

  it('takes the Idempotency-Key header as the idempotency key: a repeat attaches to the same run', async () => {
    const h = await setup()
    const first = await post(h, '/v1/keys/payments-dek/rotations', {}, { 'idempotency-key': '"order-42"' })
    const again = await post(h, '/v1/keys/payments-dek/rotations', {}, { 'idempotency-key': '"order-42"' })
    const viaBody = await post(h, '/v1/keys/payments-dek/rotations', { idempotencyKey: 'order-42' })
    const [a, b, c] = (await Promise.all([first.json(), again.json(), viaBody.json()])) as RunView[]
    expect([first.status, again.status, viaBody.status]).toEqual([201, 200, 200])
    expect(a).toMatchObject({ idempotencyKey: 'order-42' })
    expect(b!.id).toBe(a!.id)
    expect(c!.id).toBe(a!.id)
  })

  it('refuses a header that disagrees with the body field, or is not a string, with 400 naming it', async () => {
    const h = await setup()
    const differ = await post(
      h,
      '/v1/keys/payments-dek/rotations',
      { idempotencyKey: 'a' },
      { 'idempotency-key': '"b"' },
    )
    expect(differ.status).toBe(400)
    expect(((await differ.json()) as { detail: string }).detail).toMatch(
      /Idempotency-Key header "b".*"a" differ/,
    )
    const bad = await post(h, '/v1/keys/payments-dek/rotations', {}, { 'idempotency-key': '"unterminated' })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { detail: string }).detail).toContain('Idempotency-Key header')
    const runs = (await h.api<RunView[]>('GET', '/v1/runs')).body
    expect(runs).toEqual([])
  })

  it('sends Retry-After with 423 HALTED and 409 CONCURRENT_ROTATION, and not with other refusals', async () => {
    const slow = await planDependent('slow-api')
    const server = await slowDependent(slow.port, 'payments-dek', 1500)
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())))
    const h = await setup([slow])
    const first = await post(h, '/v1/keys/payments-dek/rotations', {})
    expect(first.status).toBe(201)
    const busy = await post(h, '/v1/keys/payments-dek/rotations', {})
    expect(busy.status).toBe(409)
    expect(busy.headers.get('retry-after')).toBe('30')
    expect(await busy.json()).toMatchObject({ type: problemType('CONCURRENT_ROTATION') })

    const unknown = await post(h, '/v1/keys/no-such-key/rotations', {})
    expect(unknown.status).toBe(404)
    expect(unknown.headers.get('retry-after')).toBeNull()

    await h.keyrotor.store.db
      .updateTable('halt')
      .set({ engaged: 1, reason: 'test', engaged_by: 'test', since: new Date().toISOString() })
      .execute()
    const halted = await post(h, '/v1/keys/payments-dek/rotations', {})
    expect(halted.status).toBe(423)
    expect(halted.headers.get('retry-after')).toBe('300')
    expect(await halted.json()).toMatchObject({
      type: 'https://keyrotor.dev/problems/halted',
      code: 'HALTED',
    })
  })
})

/** A dependent whose probe answers slowly, so a run stays in progress for a while. */
async function slowDependent(port: number, key: string, delayMs: number): Promise<Server> {
  const server = createServer((_req, res) => {
    setTimeout(() => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ key, accepts: [1], active: 1 }))
    }, delayMs)
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return server
}
