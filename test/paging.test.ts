import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Kysely } from 'kysely'
import type { Database } from '../src/store/tables.js'
import { runCliProcess } from './helpers/cli.js'
import { call } from './helpers/http.js'
import { startHarness, type Harness } from './helpers/harness.js'
import { keyYaml } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

type Item = Record<string, unknown>

const KEYS = ['page-a', 'page-b', 'page-c'] as const
const PAGE = 4
// fixtures are backdated so the server's own records (bootstrap, admin token) sort apart from them
const BASE = Date.parse('2026-01-01T00:00:00.000Z')
/** The n-th fixture time; every third row shares its time with the one before (ties on the sort column). */
const timeOf = (n: number) => new Date(BASE + (n - (n % 3 === 2 ? 1 : 0)) * 60_000).toISOString()
const uid = (prefix: string) => `${prefix}_${randomBytes(6).toString('hex')}`

/** Rows written straight into the store (a real database): the lists read whatever is there. */
function writers(db: Kysely<Database>, h: Harness) {
  let versions = 1
  return {
    async run(n: number, at = timeOf(n)) {
      await db
        .insertInto('runs')
        .values({
          id: `run_${at}_${uid('r')}`,
          key_id: KEYS[n % 3] as string,
          kind: n % 4 === 0 ? 'revoke' : 'rotate',
          state: n % 2 === 0 ? 'succeeded' : 'failed',
          phase: 'confirm',
          phase_status: 'done',
          from_version: 1,
          to_version: 2,
          correlation_id: uid('c'),
          idempotency_key: null,
          trigger: 'manual',
          requested_by: 'admin',
          reason: null,
          priority: 1,
          attempt: null,
          failure_class: null,
          failure_phase: null,
          failure_message: null,
          duplicate_count: 0,
          validation: null,
          lease_owner: null,
          lease_expires_at: null,
          fencing_token: 0,
          not_before: null,
          created_at: at,
          started_at: at,
          finished_at: at,
          active_key: null,
          cancel_requested_at: null,
          approval_id: null,
        })
        .execute()
    },
    async alert(n: number, at = timeOf(n)) {
      const id = uid('alert')
      await db
        .insertInto('alerts')
        .values({
          id,
          type: 'rotation_failed',
          severity: 'warning',
          key_id: KEYS[n % 3] as string,
          run_id: null,
          correlation_id: null,
          message: `alert ${n}`,
          count: 1,
          state: n % 2 === 0 ? 'open' : 'acknowledged',
          dedup_key: id,
          created_at: at,
          updated_at: at,
        })
        .execute()
    },
    async incident(n: number, at = timeOf(n)) {
      await db
        .insertInto('incidents')
        .values({
          id: uid('inc'),
          state: n % 2 === 0 ? 'open' : 'closed',
          severity: 'high',
          title: `incident ${n}`,
          summary: 's',
          correlation_id: null,
          run_id: null,
          key_id: KEYS[n % 3] as string,
          escalated_to: 'security-lead',
          opened_at: at,
          closed_at: null,
          closed_by: null,
          rca: null,
        })
        .execute()
    },
    async approval(n: number, at = timeOf(n)) {
      await db
        .insertInto('approvals')
        .values({
          id: uid('apr'),
          action: n % 2 === 0 ? 'forward-correct' : 'emergency-rotate',
          subject: KEYS[n % 3] as string,
          digest: 'd',
          payload: '{}',
          state: 'rejected',
          requested_by: 'alice',
          reason: 'r',
          required_roles: '["admin"]',
          run_id: null,
          correlation_id: uid('c'),
          created_at: at,
          expires_at: '2099-01-01T00:00:00.000Z',
          decided_at: at,
        })
        .execute()
    },
    async audit(n: number) {
      await h.keyrotor.engine.audit.append(db, {
        actor: `actor-${n % 2}`,
        action: 'paging.test',
        target: KEYS[n % 3],
      })
    },
    async token(n: number) {
      const res = await h.api('POST', '/v1/tokens', { user: `user-${n % 2}`, role: 'viewer' })
      expect(res.status).toBe(201)
    },
    async proposal(n: number, at = timeOf(n)) {
      await db
        .insertInto('config_proposals')
        .values({
          id: uid('prop'),
          body: 'keys: []\n',
          hash: 'h',
          base_version: 1,
          diff: '',
          summary: `proposal ${n}`,
          rollback_plan: 'p',
          state: n % 2 === 0 ? 'rejected' : 'expired',
          proposed_by: 'alice',
          created_at: at,
          approval_id: uid('apr'),
          approved_by: null,
          approved_at: null,
          applied_by: null,
          applied_at: null,
          applied_version: null,
          decided_at: at,
        })
        .execute()
    },
    async version(n: number, at = timeOf(n)) {
      versions += 1
      await db
        .insertInto('config_versions')
        .values({
          version: versions,
          hash: `h${versions}`,
          body: 'keys: []\n',
          source: 'api',
          created_at: at,
          created_by: 'admin',
          active: 0,
        })
        .execute()
    },
  }
}

type Writer = keyof ReturnType<typeof writers>

/** Every list route: how its items are told apart, what writes one, and its order. */
const LISTS: { path: string; id: string; write: Writer; newestFirst: boolean; count: number }[] = [
  { path: '/v1/runs', id: 'id', write: 'run', newestFirst: true, count: 23 },
  { path: '/v1/alerts', id: 'id', write: 'alert', newestFirst: true, count: 14 },
  { path: '/v1/incidents', id: 'id', write: 'incident', newestFirst: true, count: 11 },
  { path: '/v1/approvals', id: 'id', write: 'approval', newestFirst: true, count: 11 },
  { path: '/v1/audit', id: 'seq', write: 'audit', newestFirst: false, count: 13 },
  { path: '/v1/tokens', id: 'id', write: 'token', newestFirst: false, count: 9 },
  { path: '/v1/config/proposals', id: 'id', write: 'proposal', newestFirst: true, count: 9 },
  { path: '/v1/config/versions', id: 'version', write: 'version', newestFirst: false, count: 9 },
]

describe.each(DIALECTS)('paging and filtering of every list route on %s', (dialect) => {
  let h: Harness
  let write: ReturnType<typeof writers>

  async function get(path: string) {
    const response = await call<Item[] & { code?: string; detail?: string }>(h.url, h.adminToken, 'GET', path)
    return {
      status: response.status,
      body: response.body,
      next: response.headers.get('x-next-cursor') ?? undefined,
      link: response.headers.get('link') ?? undefined,
    }
  }

  /** Follows `Link: rel="next"` from `path` to the last page; `between` runs after each page. */
  async function walk(
    path: string,
    between?: () => Promise<void>,
  ): Promise<{ items: Item[]; pages: number }> {
    const items: Item[] = []
    let url: string | undefined = path
    let pages = 0
    while (url !== undefined) {
      const page = await get(url)
      expect(page.status, `${url}: ${JSON.stringify(page.body)}`).toBe(200)
      expect(page.body.length).toBeLessThanOrEqual(PAGE)
      items.push(...page.body)
      pages += 1
      if (page.next === undefined) {
        expect(page.link).toBeUndefined()
        url = undefined
      } else {
        const target = /^<([^>]+)>; rel="next"$/.exec(page.link ?? '')?.[1]
        expect(target, `Link of ${url}`).toBeDefined()
        // the link keeps the query (filters, limit) and carries the same cursor as the header
        expect(new URL(target as string, h.url).searchParams.get('cursor')).toBe(page.next)
        url = target
        await between?.()
      }
      expect(pages).toBeLessThan(50)
    }
    return { items, pages }
  }

  const idsOf = (items: Item[], id: string) => items.map((item) => String(item[id]))
  const withQuery = (path: string, query: string) => `${path}${path.includes('?') ? '&' : '?'}${query}`

  beforeAll(async () => {
    const keys = KEYS.map((id) => keyYaml({ id, algorithm: 'aes-256-gcm', dependents: [] })).join('')
    h = await startHarness(dialect, `keys:${keys}\n`)
    write = writers(h.keyrotor.store.db, h)
    for (const list of LISTS) {
      // written out of time order, so the lists' order comes from the store and not from insertion
      const order = Array.from({ length: list.count }, (_, n) => (n * 7) % list.count)
      for (const n of order) await write[list.write](n)
    }
  }, 60_000)

  afterAll(async () => {
    await h?.stop()
  })

  it.each(LISTS)('walks $path page by page: the same items in the same order as one answer', async (list) => {
    const whole = await get(list.path)
    expect(whole.status).toBe(200)
    // small lists answer whole without paging parameters, as they did before paging
    expect(whole.next).toBeUndefined()
    expect(whole.body.length).toBeGreaterThanOrEqual(list.count)
    const { items, pages } = await walk(`${list.path}?limit=${PAGE}`)
    expect(idsOf(items, list.id)).toEqual(idsOf(whole.body, list.id))
    expect(pages).toBe(Math.ceil(whole.body.length / PAGE))
  })

  it.each(LISTS)('inserts between the pages of $path neither repeat nor skip an item', async (list) => {
    const before = idsOf((await get(list.path)).body, list.id)
    let written = 0
    const { items } = await walk(`${list.path}?limit=${PAGE}`, async () => {
      written += 1
      await write[list.write](1000 + written, new Date().toISOString())
    })
    const walked = idsOf(items, list.id)
    expect(new Set(walked).size).toBe(walked.length)
    // every item there at the start, in its order; newer ones only where the order puts them
    expect(walked.filter((id) => before.includes(id))).toEqual(before)
    if (list.newestFirst) expect(walked).toEqual(before)
    else expect(walked.slice(0, before.length)).toEqual(before)
    expect(written).toBeGreaterThan(1)
  })

  it('filters runs by key, state, kind and time, page by page', async () => {
    const all = (await get('/v1/runs?limit=1000')).body
    const cases: [string, (run: Item) => boolean][] = [
      ['key=page-b', (run) => run.key === 'page-b'],
      ['state=failed', (run) => run.state === 'failed'],
      ['kind=revoke', (run) => run.kind === 'revoke'],
      ['key=page-a&state=succeeded', (run) => run.key === 'page-a' && run.state === 'succeeded'],
      [
        `since=${timeOf(5)}&until=${timeOf(14)}`,
        (run) => String(run.createdAt) >= timeOf(5) && String(run.createdAt) < timeOf(14),
      ],
    ]
    for (const [query, keep] of cases) {
      const expected = all.filter(keep)
      expect(expected.length, query).toBeGreaterThan(0)
      expect(expected.length, query).toBeLessThan(all.length)
      const { items } = await walk(`/v1/runs?${query}&limit=${PAGE}`)
      expect(idsOf(items, 'id'), query).toEqual(idsOf(expected, 'id'))
    }
  })

  it('filters each other list by its key, state, actor or time', async () => {
    const cases: [string, string, (item: Item) => boolean][] = [
      ['/v1/alerts?key=page-c', 'id', (a) => a.key === 'page-c'],
      ['/v1/alerts?state=open', 'id', (a) => a.state === 'open'],
      ['/v1/incidents?key=page-a', 'id', (i) => i.key === 'page-a'],
      ['/v1/incidents?state=closed', 'id', (i) => i.state === 'closed'],
      ['/v1/approvals?subject=page-b', 'id', (a) => a.subject === 'page-b'],
      ['/v1/approvals?action=forward-correct', 'id', (a) => a.action === 'forward-correct'],
      [
        '/v1/audit?target=page-a&action=paging.test',
        'seq',
        (e) => e.target === 'page-a' && e.action === 'paging.test',
      ],
      ['/v1/audit?actor=actor-1', 'seq', (e) => e.actor === 'actor-1'],
      ['/v1/tokens?user=user-1', 'id', (t) => t.user === 'user-1'],
      ['/v1/tokens?role=admin', 'id', (t) => t.role === 'admin'],
      ['/v1/config/proposals?state=expired', 'id', (p) => p.state === 'expired'],
      [
        `/v1/config/proposals?since=${timeOf(3)}&until=${timeOf(7)}`,
        'id',
        (p) => String(p.createdAt) >= timeOf(3) && String(p.createdAt) < timeOf(7),
      ],
      [
        `/v1/config/versions?since=${timeOf(2)}&until=${timeOf(6)}`,
        'version',
        (v) => String(v.appliedAt) >= timeOf(2) && String(v.appliedAt) < timeOf(6),
      ],
    ]
    for (const [path, id, keep] of cases) {
      const unfiltered = (await get(path.replace(/\?.*$/, ''))).body
      const expected = unfiltered.filter(keep)
      expect(expected.length, path).toBeGreaterThan(0)
      expect(expected.length, path).toBeLessThan(unfiltered.length)
      const { items } = await walk(withQuery(path, `limit=${PAGE}`))
      expect(idsOf(items, id), path).toEqual(idsOf(expected, id))
    }
  })

  it('pages keys by id with the next cursor in the headers too', async () => {
    const { items, pages } = await walk(`/v1/keys?limit=2`)
    expect(idsOf(items, 'id')).toEqual([...KEYS])
    expect(pages).toBe(2)
  })

  it('lists one page with the CLI, tells the next cursor on stderr, and follows every page with --all', async () => {
    const env = { KEYROTOR_URL: h.url, KEYROTOR_TOKEN: h.adminToken }
    const expected = idsOf((await get('/v1/runs?key=page-c&limit=1000')).body, 'id')
    expect(expected.length).toBeGreaterThan(3)
    const first = await runCliProcess(['runs', 'list', '--key', 'page-c', '--limit', '3', '--json'], env)
    expect(first.code, first.stderr).toBe(0)
    expect(idsOf(JSON.parse(first.stdout) as Item[], 'id')).toEqual(expected.slice(0, 3))
    const cursor = /--cursor (\S+)/.exec(first.stderr)?.[1]
    expect(cursor, first.stderr).toBeDefined()
    const second = await runCliProcess(
      ['runs', 'list', '--key', 'page-c', '--limit', '3', '--cursor', cursor as string, '--json'],
      env,
    )
    expect(idsOf(JSON.parse(second.stdout) as Item[], 'id')).toEqual(expected.slice(3, 6))
    const all = await runCliProcess(
      ['runs', 'list', '--key', 'page-c', '--limit', '2', '--all', '--json'],
      env,
    )
    expect(all.code, all.stderr).toBe(0)
    expect(idsOf(JSON.parse(all.stdout) as Item[], 'id')).toEqual(expected)
    expect(all.stderr).not.toContain('--cursor')
  })

  it.each(LISTS)(
    'refuses a bad limit, cursor or time on $path with 400 naming the parameter',
    async (list) => {
      const max = list.path === '/v1/audit' ? 10_000 : 1000
      const otherList = list.path === '/v1/runs' ? '/v1/incidents' : '/v1/runs'
      const foreign = (await get(`${otherList}?limit=1`)).next
      expect(foreign).toBeDefined()
      const cases: [string, string][] = [
        ['limit=0', 'limit'],
        [`limit=${max + 1}`, 'limit'],
        ['limit=ten', 'limit'],
        ['cursor=not-a-cursor', 'cursor'],
        [`cursor=${Buffer.from('["x"').toString('base64url')}`, 'cursor'],
        [`cursor=${foreign as string}`, 'cursor'],
        ['since=yesterday', 'since'],
        ['until=2026-02-31', 'until'],
        ['since=2026-01-01T25:00Z', 'since'],
      ]
      for (const [query, parameter] of cases) {
        const res = await get(withQuery(list.path, query))
        expect(res.status, `${list.path}?${query}`).toBe(400)
        expect(res.body.code).toBe('BAD_REQUEST')
        expect(res.body.detail, `${list.path}?${query}`).toContain(parameter)
      }
    },
  )
})
