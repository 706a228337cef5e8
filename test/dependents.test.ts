import { createHmac } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { deliverUntil, probeUntil } from '../src/dependents/delivery.js'
import type { DependentTarget, Notice, ProbeAnswer } from '../src/dependents/dependent-client.js'
import { createDependentClient } from '../src/dependents/http-dependent-client.js'
import { isKeyrotorError } from '../src/errors.js'

interface Received {
  method: string
  headers: IncomingMessage['headers']
  body: string
}

const servers: Array<{ close(): void; closeAllConnections(): void }> = []
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.close()
    server.closeAllConnections()
  }
})

/** A real HTTP receiver on an ephemeral port; `answer` decides each response from the request number. */
async function receiver(answer: (n: number, req: Received, res: ServerResponse) => void) {
  const received: Received[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      const r = { method: req.method ?? '', headers: req.headers, body }
      received.push(r)
      answer(received.length, r, res)
    })
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, received }
}

const json = (res: ServerResponse, status: number, body: unknown) =>
  res
    .writeHead(status, { 'content-type': 'application/json' })
    .end(typeof body === 'string' ? body : JSON.stringify(body))

const target = (url: string, extra: Partial<DependentTarget> = {}): DependentTarget => ({
  name: 'payments-api',
  key: 'payments-dek',
  probe: { http: `${url}/probe` },
  notify: { http: `${url}/notify`, secretEnv: 'PAYMENTS_HOOK_SECRET' },
  critical: true,
  ...extra,
})

const notice: Notice = {
  event: 'key.version.staged',
  key: 'payments-dek',
  version: 4,
  runId: 'run-123',
  correlationId: 'corr-456',
  deadline: '2030-01-01T00:00:00.000Z',
}

const secrets: Record<string, string> = { PAYMENTS_HOOK_SECRET: 'whsec-payments' }
const client = createDependentClient({ secretOf: (name) => secrets[name], requestTimeoutMs: 2000 })

async function codeOf(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!isKeyrotorError(error)) throw new Error(`expected a KeyrotorError, got ${String(error)}`)
  return error
}

describe('notices', () => {
  it('posts exactly the six notice members, signed with the dependent secret', async () => {
    const { url, received } = await receiver((_n, _r, res) => json(res, 204, ''))
    await client.notify(target(url), { ...notice, extra: 'dropped' } as Notice)
    const [request] = received
    expect(request?.method).toBe('POST')
    expect(request?.body).toBe(
      '{"event":"key.version.staged","key":"payments-dek","version":4,"runId":"run-123","correlationId":"corr-456","deadline":"2030-01-01T00:00:00.000Z"}',
    )
    const timestamp = String(request?.headers['x-keyrotor-timestamp'])
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(5)
    const hmac = createHmac('sha256', 'whsec-payments').update(`${timestamp}.${request?.body}`).digest('hex')
    expect(request?.headers['x-keyrotor-signature']).toBe(`v1=${hmac}`)
  })

  it('sends no signature headers when the dependent declares no secret', async () => {
    const { url, received } = await receiver((_n, _r, res) => json(res, 200, {}))
    await client.notify(target(url, { notify: { http: `${url}/notify` } }), notice)
    expect(received[0]?.headers['x-keyrotor-signature']).toBeUndefined()
  })

  it('refuses to send when the secret variable is unset, naming the variable only', async () => {
    const { url, received } = await receiver((_n, _r, res) => json(res, 200, {}))
    const unset = target(url, { notify: { http: `${url}/notify`, secretEnv: 'MISSING_SECRET' } })
    const error = await codeOf(deliverUntil(client, unset, notice, { deadline: new Date(Date.now() + 5000) }))
    expect(error.code).toBe('INVALID_CONFIG')
    expect(error.message).toContain('MISSING_SECRET')
    expect(received).toHaveLength(0)
  })

  it('reports a non-2xx answer as DEPENDENCY_NOT_READY, retryable, with the status', async () => {
    const { url } = await receiver((_n, _r, res) => json(res, 409, { error: 'v4 not loaded yet' }))
    const error = await codeOf(client.notify(target(url), notice))
    expect(error).toMatchObject({ code: 'DEPENDENCY_NOT_READY', retryable: true })
    expect(error.message).toMatch(/payments-api.*HTTP 409.*v4 not loaded yet/)
    expect(error.message).not.toContain('whsec-payments')
  })

  it('reports an unreachable dependent as DEPENDENCY_NOT_READY', async () => {
    const { url } = await receiver(() => undefined)
    servers.splice(0).forEach((s) => (s.close(), s.closeAllConnections()))
    const error = await codeOf(client.notify(target(url), notice))
    expect(error).toMatchObject({ code: 'DEPENDENCY_NOT_READY', retryable: true })
    expect(error.message).toContain('could not be reached')
  })

  it('retries until a flaky receiver answers 2xx', async () => {
    const { url, received } = await receiver((n, _r, res) =>
      n < 3 ? json(res, 503, 'busy') : json(res, 202, {}),
    )
    await deliverUntil(client, target(url), notice, { deadline: new Date(Date.now() + 5000), minDelayMs: 10 })
    expect(received).toHaveLength(3)
  })

  it('gives up with TIMEOUT at the deadline, naming the dependent and the last error', async () => {
    const { url, received } = await receiver((_n, _r, res) => json(res, 500, 'boom'))
    const started = Date.now()
    const deadline = new Date(started + 400)
    const error = await codeOf(
      deliverUntil(client, target(url), notice, { deadline, minDelayMs: 20, maxDelayMs: 80 }),
    )
    expect(error.code).toBe('TIMEOUT')
    expect(error.message).toMatch(/key\.version\.staged v4.*"payments-api".*HTTP 500: boom/)
    expect(Date.now()).toBeLessThan(deadline.getTime() + 1000) // not the 2 s default cap: it stops at the deadline
    expect(received.length).toBeGreaterThan(2)
  })

  it('stops at the caller abort with the caller reason', async () => {
    const { url } = await receiver(() => undefined) // never answers
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('run cancelled')), 50)
    const attempt = deliverUntil(client, target(url), notice, {
      deadline: new Date(Date.now() + 5000),
      signal: controller.signal,
    })
    await expect(attempt).rejects.toThrow('run cancelled')
  })
})

describe('http probes', () => {
  const answer = (body: unknown, status = 200) => receiver((_n, _r, res) => json(res, status, body))

  it('reads a valid answer, sorting and de-duplicating accepts', async () => {
    const { url } = await answer({ key: 'payments-dek', accepts: [4, 3, 4], active: 3 })
    await expect(client.probe(target(url))).resolves.toEqual({
      key: 'payments-dek',
      accepts: [3, 4],
      active: 3,
    })
  })

  it.each([
    [{ key: 'other-key', accepts: [1], active: 1 }, '"key" is "other-key", expected "payments-dek"'],
    [{ key: 'payments-dek', accepts: '3,4', active: 3 }, '"accepts" is "3,4", expected an array'],
    [{ key: 'payments-dek', accepts: [3, 0], active: 3 }, '"accepts" holds 0, expected positive integers'],
    [{ key: 'payments-dek', accepts: [3, '4'], active: 3 }, '"accepts" holds "4"'],
    [
      { key: 'payments-dek', accepts: [3], active: '3' },
      '"active" is "3", expected a positive integer or null',
    ],
    [{ key: 'payments-dek', accepts: [3] }, '"active" is missing'],
    [[3, 4], 'expected a JSON object, got an array'],
    ['not json at all', 'not JSON'],
  ])('rejects the malformed answer %j with a clear message', async (body, problem) => {
    const { url } = await answer(body)
    const error = await codeOf(client.probe(target(url)))
    expect(error).toMatchObject({ code: 'DEPENDENCY_NOT_READY', retryable: true })
    expect(error.message).toContain('dependent "payments-api"')
    expect(error.message).toContain(problem)
  })

  it('reports an HTTP error status of the probe', async () => {
    const { url } = await answer({ error: 'starting' }, 503)
    expect((await codeOf(client.probe(target(url)))).message).toContain('HTTP 503')
  })

  it('gives up on a probe that does not answer within the request timeout', async () => {
    const { url } = await receiver(() => undefined)
    const impatient = createDependentClient({ secretOf: () => undefined, requestTimeoutMs: 100 })
    const error = await codeOf(impatient.probe(target(url)))
    expect(error.code).toBe('DEPENDENCY_NOT_READY')
    expect(error.message).toContain('did not answer its probe within 100 ms')
  })
})

describe('exec probes', () => {
  let dir = ''
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyrotor-probe-'))
    await writeFile(
      join(dir, 'probe.mjs'),
      `console.log(JSON.stringify({ key: process.env.KEYROTOR_KEY, accepts: [1, 2], active: 2 }))\n`,
    )
    await writeFile(join(dir, 'fail.mjs'), `console.error('vault sealed'); process.exit(3)\n`)
    await writeFile(join(dir, 'hang.mjs'), `setTimeout(() => {}, 60000)\n`)
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))
  const execTarget = (...args: string[]): DependentTarget => ({
    name: 'batch-job',
    key: 'payments-dek',
    probe: { exec: [process.execPath, ...args] },
    critical: false,
  })

  it('runs the command with KEYROTOR_KEY set and reads its JSON answer', async () => {
    await expect(client.probe(execTarget(join(dir, 'probe.mjs')))).resolves.toEqual({
      key: 'payments-dek',
      accepts: [1, 2],
      active: 2,
    })
  })

  it('reports a failing command as DEPENDENCY_NOT_READY with its exit code and stderr', async () => {
    const error = await codeOf(client.probe(execTarget(join(dir, 'fail.mjs'))))
    expect(error).toMatchObject({ code: 'DEPENDENCY_NOT_READY', retryable: true })
    expect(error.message).toMatch(/"batch-job".*exited with code 3: vault sealed/)
  })

  it('reports a missing command and a hung command', async () => {
    const missing: DependentTarget = { ...execTarget(), probe: { exec: [join(dir, 'no-such-probe')] } }
    expect((await codeOf(client.probe(missing))).message).toContain('command not found')
    const impatient = createDependentClient({ secretOf: () => undefined, requestTimeoutMs: 300 })
    expect((await codeOf(impatient.probe(execTarget(join(dir, 'hang.mjs'))))).message).toContain(
      'did not finish in time',
    )
  })
})

describe('probeUntil', () => {
  const deadline = (ms: number) => new Date(Date.now() + ms)

  it('polls until the dependent reports the wanted version', async () => {
    const { url } = await receiver((n, _r, res) =>
      json(res, 200, { key: 'payments-dek', accepts: n < 4 ? [3] : [3, 4], active: 3 }),
    )
    const seen: ProbeAnswer[] = []
    const answer = await probeUntil(client, target(url), (a) => a.accepts.includes(4), {
      deadline: deadline(5000),
      onAnswer: (a) => seen.push(a),
    })
    expect(answer.accepts).toEqual([3, 4])
    expect(seen).toHaveLength(4)
  })

  it('keeps probing until the deadline: a dependent ready shortly before it is found ready', async () => {
    // backoff pauses grow to 1 s; the last probe must not be skipped because a full pause no
    // longer fits before the deadline (it used to give up up to 1 s early)
    const readyAt = Date.now() + 2_600
    const { url } = await receiver((_n, _r, res) =>
      json(res, 200, { key: 'payments-dek', accepts: Date.now() >= readyAt ? [3, 4] : [3], active: 3 }),
    )
    const answer = await probeUntil(client, target(url), (a) => a.accepts.includes(4), {
      deadline: deadline(3_000),
    })
    expect(answer.accepts).toEqual([3, 4])
  })

  it('throws DEPENDENCY_NOT_READY with the last answer and what was wanted when it answers but never accepts', async () => {
    const { url } = await receiver((_n, _r, res) =>
      json(res, 200, { key: 'payments-dek', accepts: [3], active: 3 }),
    )
    const error = await codeOf(
      probeUntil(client, target(url), (a) => a.active === 4, {
        deadline: deadline(300),
        wanted: 'active v4',
      }),
    )
    expect(error.code).toBe('DEPENDENCY_NOT_READY')
    expect(error.message).toMatch(/"payments-api".*wanted active v4, last answered accepts \[3\], active 3/)
  })

  it('throws DEPENDENCY_NOT_READY when the dependent never answered validly', async () => {
    const { url } = await receiver((_n, _r, res) => json(res, 200, { key: 'payments-dek' }))
    const errors: unknown[] = []
    const error = await codeOf(
      probeUntil(client, target(url), () => true, {
        deadline: deadline(200),
        wanted: 'accepts v4',
        onError: (e) => errors.push(e),
      }),
    )
    expect(error.code).toBe('DEPENDENCY_NOT_READY')
    expect(error.message).toMatch(
      /"payments-api" gave no valid probe answer.*accepts v4.*"accepts" is missing/,
    )
    expect(errors.length).toBeGreaterThan(1)
  })
})
