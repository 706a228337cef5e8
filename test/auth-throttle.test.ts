import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditEvent } from '../src/audit/audit-log.js'
import type { Problem } from '../src/http/problem.js'
import { startHarness, type Harness } from './helpers/harness.js'
import { DIALECTS } from './helpers/stores.js'

const MAX_FAILURES = 5
const METRICS_TOKEN = 'metrics-scrape-token-0123456789'
const WRONG = `kr_${'A'.repeat(43)}`

/** GET `path` from a chosen loopback address (every 127.x address reaches the server on Linux). */
function getFrom(
  localAddress: string,
  url: string,
  path: string,
  token?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      { localAddress, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

/** Issue 9 item 10 and the metrics token of item 12. */
describe.each(DIALECTS)('failed authentication throttle on %s', (dialect) => {
  let h: Harness
  const logLines: string[] = []
  const records = async (action: string) =>
    (await h.api<AuditEvent[]>('GET', '/v1/audit')).body.filter((e) => e.action === action)

  beforeAll(async () => {
    h = await startHarness(dialect, 'keys: []\n', {
      host: '127.0.0.1',
      logLevel: 'info',
      logDestination: { write: (line: string) => void logLines.push(line) },
      authThrottle: { max: MAX_FAILURES, windowMs: 60_000 },
      metricsToken: METRICS_TOKEN,
    })
  })
  afterAll(async () => {
    await h?.stop()
  })

  it('answers 429 with Retry-After after the limit, even to a valid token, audits the flood as one record, and spares other addresses', async () => {
    // not 127.0.0.1: the test's own admin calls come from there
    const attacker = '127.0.0.4'
    const linesBefore = logLines.length
    for (let i = 0; i < MAX_FAILURES; i++) {
      expect((await getFrom(attacker, h.url, '/v1/keys', WRONG)).status).toBe(401)
    }
    for (let i = 0; i < 100; i++) {
      const res = await getFrom(attacker, h.url, '/v1/keys', WRONG)
      expect(res.status).toBe(429)
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0)
      expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60)
    }
    // 105 requests, but the refused ones are not logged one by one (two lines each would be 210)
    expect(logLines.length - linesBefore).toBeLessThan(30)
    // guessing gets no further: the right token is not even looked at from this address now
    const right = await getFrom(attacker, h.url, '/v1/keys', h.adminToken)
    expect(right.status).toBe(429)
    // a URL error is authenticated the same way
    expect((await getFrom(attacker, h.url, '/v1/runs/%zz', h.adminToken)).status).toBe(429)

    // another client works as usual
    expect((await getFrom('127.0.0.2', h.url, '/v1/keys', h.adminToken)).status).toBe(200)
    const denied = (await records('auth.denied')).filter((r) => r.details?.ip === attacker)
    const throttled = await records('auth.throttled')
    expect(denied).toHaveLength(MAX_FAILURES)
    expect(throttled.map((r) => r.details?.ip)).toEqual([attacker])
    expect(throttled[0]?.reason).toContain(`more than ${MAX_FAILURES} failed authentications`)
  })

  it('requires the metrics token on /metrics when one is set, and nothing else', async () => {
    const client = '127.0.0.3'
    expect((await getFrom(client, h.url, '/metrics')).status).toBe(401)
    expect((await getFrom(client, h.url, '/metrics', 'not-the-token-000000000')).status).toBe(401)
    expect((await getFrom(client, h.url, '/metrics', h.adminToken)).status).toBe(401)
    const scrape = await getFrom(client, h.url, '/metrics', METRICS_TOKEN)
    expect(scrape.status).toBe(200)
    expect(scrape.body).toContain('keyrotor_halt_engaged')
    expect((await getFrom(client, h.url, '/healthz')).status).toBe(200)
    const refused = await getFrom(client, h.url, '/metrics')
    expect([refused.headers['content-type'], (JSON.parse(refused.body) as Problem).code]).toEqual([
      'application/problem+json; charset=utf-8',
      'UNAUTHENTICATED',
    ])
  })
})
