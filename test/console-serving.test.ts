import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { KeyView, RunView } from '../src/engine/views.js'
import { CONSOLE_CSP } from '../src/http/routes/console.js'
import { buildConsole } from './helpers/browser.js'
import { startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { keyYaml } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

const KEY_IDS = ['alpha-dek', 'beta-dek', 'gamma-dek', 'gamma-sig', 'delta-sig']

/** What the console needs from the server without a browser: its page and assets, the session, key pages. */
describe.each(DIALECTS)('serving the console and paging keys on %s', (dialect) => {
  let h: Harness
  beforeAll(async () => {
    buildConsole()
    h = await startHarness(
      dialect,
      `keys:${KEY_IDS.map((id) => keyYaml({ id, algorithm: 'aes-256-gcm', dependents: [] })).join('')}`,
    )
  })
  afterAll(async () => h?.stop())

  it('serves the page with its strict CSP, never cached, and its hashed assets cached for a year', async () => {
    const page = await fetch(`${h.url}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toContain('text/html')
    expect(page.headers.get('content-security-policy')).toBe(CONSOLE_CSP)
    expect(CONSOLE_CSP).toContain("script-src 'self'")
    expect(CONSOLE_CSP).not.toContain('unsafe-inline')
    expect(page.headers.get('cache-control')).toBe('no-cache')
    expect(page.headers.get('set-cookie')).toBeNull()
    const html = await page.text()
    // no inline script and nothing from another origin: every src and href is this server's /assets
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)]
      .map((m) => m[1]!)
      .filter((u) => u !== 'data:,')
    expect(assets).toHaveLength(2)
    for (const asset of assets) {
      expect(asset).toMatch(/^\/assets\/app-[A-Z0-9]{8}\.(js|css)$/)
      const response = await fetch(`${h.url}${asset}`)
      expect(response.status).toBe(200)
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
      expect(response.headers.get('content-type')).toMatch(asset.endsWith('.js') ? /javascript/ : /text\/css/)
    }
    expect((await fetch(`${h.url}/assets/app-NOTTHERE.js`)).status).toBe(404)
    expect((await fetch(`${h.url}/assets/..%2Fpackage.json`)).status).toBe(404)
  })

  it("answers /v1/session with the token's user, role and the actions that role may take", async () => {
    const person = async (user: string, role: string, key?: string) =>
      (await h.api<{ token: string }>('POST', '/v1/tokens', { user, role, ...(key ? { key } : {}) })).body
        .token
    const viewer = await h.api<{ user: string; role: string; actions: string[] }>(
      'GET',
      '/v1/session',
      undefined,
      await person('vic', 'viewer'),
    )
    expect(viewer.body).toMatchObject({ user: 'vic', role: 'viewer' })
    expect(viewer.body.actions).toContain('keys.read')
    expect(viewer.body.actions).not.toContain('rotation.trigger')
    const operator = (
      await h.api<{ actions: string[] }>('GET', '/v1/session', undefined, await person('oz', 'operator'))
    ).body
    expect(operator.actions).toEqual(expect.arrayContaining(['rotation.trigger', 'alerts.ack']))
    expect(operator.actions).not.toContain('approvals.decide')
    const consumer = await person('svc', 'consumer', 'alpha-dek')
    expect((await h.api('GET', '/v1/session', undefined, consumer)).status).toBe(403)
    expect((await fetch(`${h.url}/v1/session`)).status).toBe(401)
  })

  it('pages keys with limit and cursor, filters with q, and keeps the unpaged answer whole', async () => {
    const ids = async (query: string) =>
      (await h.api<KeyView[]>('GET', `/v1/keys${query}`)).body.map((k) => k.id)
    const sorted = [...KEY_IDS].sort()
    expect(await ids('')).toEqual(sorted)
    expect(await ids('?limit=2')).toEqual(sorted.slice(0, 2))
    expect(await ids(`?limit=2&cursor=${sorted[1]}`)).toEqual(sorted.slice(2, 4))
    expect(await ids(`?limit=2&cursor=${sorted[3]}`)).toEqual(sorted.slice(4))
    expect(await ids('?q=GAMMA')).toEqual(['gamma-dek', 'gamma-sig'])
    expect(await ids('?q=a-s')).toEqual(['delta-sig', 'gamma-sig'])
    // what the user types is a substring, not a LIKE pattern: "_" and "%" match only themselves
    expect(await ids('?q=_')).toEqual([])
    expect(await ids('?q=%25')).toEqual([])
    expect(await ids('?q=test-team&limit=1')).toEqual([sorted[0]])
    expect((await h.api('GET', '/v1/keys?limit=0')).status).toBe(400)

    const [key] = (await h.api<KeyView[]>('GET', '/v1/keys?limit=1')).body
    expect(key).toMatchObject({ id: 'alpha-dek', frozen: null, lastRun: null, activeVersion: 1 })
    // each key carries its newest run: the fleet needs no request per key
    const first = await h.api<RunView>('POST', '/v1/keys/alpha-dek/rotations', {})
    await waitForRun(h, first.body.id)
    const second = await h.api<RunView>('POST', '/v1/keys/alpha-dek/rotations', {})
    await waitForRun(h, second.body.id)
    const [rotated, untouched] = (await h.api<KeyView[]>('GET', '/v1/keys?limit=2')).body
    expect(rotated).toMatchObject({ activeVersion: 3, lastRun: { id: second.body.id, state: 'succeeded' } })
    expect(untouched?.lastRun).toBeNull()
    expect((await h.api<KeyView[]>('GET', '/v1/keys')).body.slice(0, 2)).toEqual([rotated, untouched])

    const openapi = (
      await h.api<{ paths: Record<string, { get?: { parameters?: { name: string }[] } }> }>(
        'GET',
        '/openapi.json',
      )
    ).body
    expect(openapi.paths['/v1/keys']?.get?.parameters?.map((p) => p.name)).toEqual(['limit', 'cursor', 'q'])
    expect(openapi.paths['/']).toBeUndefined()
  })
})
