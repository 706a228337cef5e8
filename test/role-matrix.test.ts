import { readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import type { FastifyPluginAsync } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuditLog } from '../src/audit/audit-log.js'
import type { RunView } from '../src/engine/views.js'
import { ACTIONS, can, PERMISSIONS, type Action } from '../src/governance/permissions.js'
import { ROLES, type Role } from '../src/domain/roles.js'
import { createTokenStore } from '../src/governance/tokens.js'
import { createHttpApp } from '../src/http/app.js'
import { createHaltReader } from '../src/http/routes/halt.js'
import { storeAnswers } from '../src/http/routes/health.js'
import { createAlertService } from '../src/observability/alerts.js'
import { createLogger } from '../src/observability/logger.js'
import { createMetrics } from '../src/observability/metrics.js'
import { startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { keyYaml } from './helpers/sample-dependents.js'
import { createTestStore, DIALECTS } from './helpers/stores.js'

/** One operation of the OpenAPI document: the app's own list of its routes. */
interface Route {
  method: string
  path: string
  action: string | null
  body: Record<string, unknown> | undefined
}

interface Problem {
  code: string
  detail: string
  correlationId: string
}

/** Every operation in `/openapi.json`, in document order. */
async function routesOf(url: string): Promise<Route[]> {
  const doc = (await (await fetch(`${url}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, Record<string, unknown>>>
  }
  const routes: Route[] = []
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const content = (
        operation.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined
      )?.content
      routes.push({
        method: method.toUpperCase(),
        path,
        action: (operation['x-keyrotor-action'] as string | null | undefined) ?? null,
        body: content?.['application/json']?.schema as Record<string, unknown> | undefined,
      })
    }
  }
  return routes
}

/** `{name}` placeholders filled with existing ids where the test has one, else a dummy. */
function fill(path: string, ids: Record<string, string>): string {
  return path
    .replace(/\{([^}]+)\}/g, (_, name: string) => {
      const owner = /^\/v1\/([a-z-]+)\//.exec(path)?.[1] ?? ''
      return encodeURIComponent(ids[`${owner}.${name}`] ?? ids[name] ?? `dummy-${name}`)
    })
    .replace(/\*/g, '')
}

/**
 * A body that satisfies the declared JSON schema with the fewest fields: required properties
 * only, each the simplest value of its type. Used where the handler should really run.
 */
function sampleOf(schema: unknown): unknown {
  const s = (schema ?? {}) as Record<string, unknown>
  if (Array.isArray(s.enum)) return s.enum[0]
  const types = Array.isArray(s.type)
    ? (s.type as string[])
    : [typeof s.type === 'string' ? s.type : 'object']
  const type = types.find((t) => t !== 'null') ?? 'null'
  switch (type) {
    case 'object': {
      const properties = (s.properties ?? {}) as Record<string, unknown>
      const required = (s.required ?? []) as string[]
      return Object.fromEntries(required.map((name) => [name, sampleOf(properties[name])]))
    }
    case 'string':
      return s.format === 'date-time' ? new Date(Date.now() + 86_400_000).toISOString() : 'side-door check'
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 1
    case 'boolean':
      return false
    case 'array':
      return []
    default:
      return null
  }
}

const TIMEOUT_MS = 15_000

/** Sends one request; reads the body only of refusals (a route may stream, e.g. server-sent events). */
async function send(
  url: string,
  route: Route,
  path: string,
  options: { token?: string; correlationId: string; body?: unknown },
): Promise<{ status: number; problem: Problem | null }> {
  const writes = route.method !== 'GET' && route.method !== 'DELETE'
  const response = await fetch(`${url}${path}`, {
    method: route.method,
    headers: {
      'x-correlation-id': options.correlationId,
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(writes ? { 'content-type': 'application/json' } : {}),
    },
    ...(writes ? { body: JSON.stringify(options.body ?? {}) } : {}),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  })
  if (response.status === 401 || response.status === 403) {
    return { status: response.status, problem: (await response.json()) as Problem }
  }
  await response.body?.cancel()
  return { status: response.status, problem: null }
}

const MATRIX_CONFIG = `keys:${keyYaml({ id: 'matrix-dek', algorithm: 'aes-256-gcm', dependents: [] })}${keyYaml(
  {
    id: 'other-dek',
    algorithm: 'ec-p256',
    dependents: [],
    // no verifier caches this JWKS: promote need not wait for one
    policy: '{ gracePeriod: 1h, phaseTimeout: 3s, jwksMaxAge: 0s }',
  },
)}`

describe.each(DIALECTS)('the role matrix on %s', (dialect) => {
  let h: Harness
  let logFile: string
  const tokens = {} as Record<Role, string>
  const ids: Record<string, string> = {}

  beforeAll(async () => {
    logFile = join(tmpdir(), `keyrotor-matrix-${process.pid}-${dialect}.log`)
    // every route is called without a token from this one address: more than the default limit
    h = await startHarness(dialect, MATRIX_CONFIG, {
      logLevel: 'info',
      logFile,
      authThrottle: { max: 10_000 },
    })
    for (const role of ROLES) {
      const res = await h.api<{ token: string }>('POST', '/v1/tokens', {
        user: `${role}-user`,
        role,
        ...(role === 'consumer' ? { key: 'matrix-dek' } : {}),
      })
      expect(res.status).toBe(201)
      tokens[role] = res.body.token
    }
    // existing objects for the routes that name one, so their handlers run past the lookup
    const run = await h.api<RunView>('POST', '/v1/keys/other-dek/rotations', {})
    const done = await waitForRun<RunView>(h, run.body.id)
    const alert = await createAlertService({ db: h.keyrotor.store.db }).raise(h.keyrotor.store.db, {
      type: 'rotation_failed',
      severity: 'warning',
      key: 'other-dek',
      message: 'for the role matrix',
    })
    Object.assign(ids, {
      key: 'matrix-dek',
      version: '1',
      'runs.id': done.id,
      'timeline.correlationId': done.correlationId,
      correlationId: done.correlationId,
      'alerts.id': alert.id,
    })
  })
  afterAll(async () => {
    await h?.stop()
  })

  it('grants or refuses every route × role cell exactly as PERMISSIONS says, each refusal audited and logged', async () => {
    const routes = await routesOf(h.url)
    const disagreements: string[] = []
    const unaudited: string[] = []
    let cells = 0
    let denied = 0
    let n = 0
    for (const route of routes) {
      const path = fill(route.path, ids)
      for (const role of ROLES) {
        cells += 1
        const correlationId = `matrix-${dialect}-${(n += 1)}`
        const { status, problem } = await send(h.url, route, path, { token: tokens[role], correlationId })
        const cell = `${route.method} ${route.path} as ${role} (${route.action ?? 'no action'}): ${status}`
        const allowed =
          route.action === 'public' || (route.action !== null && can(role, route.action as Action))
        if (!allowed) {
          denied += 1
          if (status !== 403 || problem?.code !== 'FORBIDDEN') disagreements.push(`${cell}, expected 403`)
          const audited = await h.keyrotor.store.db
            .selectFrom('audit_events')
            .select(['actor', 'target'])
            .where('action', '=', 'auth.denied')
            .where('correlation_id', '=', correlationId)
            .execute()
          if (audited.length !== 1 || audited[0]?.actor !== `${role}-user`) unaudited.push(cell)
        } else if (status === 401 || status === 403) {
          disagreements.push(`${cell} ${problem?.code ?? ''} ${problem?.detail ?? ''}, expected to pass auth`)
        }
      }
    }
    expect(disagreements).toEqual([])
    expect(unaudited).toEqual([])
    // 100%: every route in the document, times every role
    expect(cells).toBe(routes.length * ROLES.length)
    expect(routes.length).toBeGreaterThanOrEqual(30)
    // every refusal is also in the log, with its correlation id
    const log = readFileSync(logFile, 'utf8')
    const deniedLines = log
      .split('\n')
      .filter((l) => l.includes('"access denied"') && l.includes(`matrix-${dialect}-`))
    expect(deniedLines).toHaveLength(denied)
    console.info(
      `role matrix on ${dialect}: ${cells}/${routes.length * ROLES.length} cells, ${denied} refused`,
    )
  })

  it('declares an action on every route in the OpenAPI document', async () => {
    const routes = await routesOf(h.url)
    const declared = new Set<string>(['public', ...ACTIONS])
    expect(routes.filter((r) => r.action === null || !declared.has(r.action))).toEqual([])
  })

  it('refuses every authenticated route without a token with 401, and serves public ones', async () => {
    const wrong: string[] = []
    for (const route of await routesOf(h.url)) {
      const { status } = await send(h.url, route, fill(route.path, ids), { correlationId: 'anonymous' })
      const expected = route.action === 'public' ? status !== 401 && status !== 403 : status === 401
      if (!expected) wrong.push(`${route.method} ${route.path}: ${status}`)
    }
    expect(wrong).toEqual([])
  })
})

describe.each(DIALECTS)('no side doors on %s (DESIGN §4.10)', (dialect) => {
  let h: Harness

  beforeAll(async () => {
    h = await startHarness(dialect, MATRIX_CONFIG)
  })
  afterAll(async () => {
    await h?.stop()
  })

  const keyState = async () => {
    const db = h.keyrotor.store.db
    return {
      versions: await db
        .selectFrom('key_versions')
        .selectAll()
        .orderBy('key_id')
        .orderBy('version')
        .execute(),
      aliases: await db.selectFrom('key_aliases').selectAll().orderBy('name').execute(),
      runs: await db.selectFrom('runs').select(['id', 'state']).orderBy('id').execute(),
      keys: await db.selectFrom('keys').select(['id', 'frozen_at']).orderBy('id').execute(),
    }
  }

  it('changes no key version or alias through any write route but the rotation ones, whose runs do it', async () => {
    // the way in: a rotation route changes nothing itself, it queues a run whose phases do
    const initial = await keyState()
    const run = await h.api<RunView>('POST', '/v1/keys/matrix-dek/rotations', {})
    expect([run.status, run.body.state]).toEqual([201, 'queued'])
    const done = await waitForRun<RunView>(h, run.body.id)
    expect(done.state).toBe('succeeded')
    const { events } = (
      await h.api<{ events: { type: string; phase: string | null }[] }>('GET', `/v1/runs/${done.id}/events`)
    ).body
    expect(events.some((e) => e.phase === 'promote')).toBe(true)
    const rotated = await keyState()
    expect(rotated.versions.filter((v) => v.key_id === 'matrix-dek').map((v) => v.state)).toEqual([
      'retiring',
      'active',
    ])
    expect(initial.versions.filter((v) => v.key_id === 'matrix-dek').map((v) => v.state)).toEqual(['active'])

    const alert = await createAlertService({ db: h.keyrotor.store.db }).raise(h.keyrotor.store.db, {
      type: 'rotation_failed',
      severity: 'warning',
      key: 'matrix-dek',
      message: 'for the side-door check',
    })
    const ids = {
      key: 'matrix-dek',
      version: '2',
      'runs.id': done.id,
      'alerts.id': alert.id,
      correlationId: done.correlationId,
    }
    const writes = (await routesOf(h.url)).filter((r) => r.method !== 'GET' && r.action !== 'public')
    // engaging the halt freezes every key, which would make "nothing changed" trivially true: last
    const others = writes
      .filter((r) => r.action?.startsWith('rotation.') !== true)
      .sort((a, b) => Number(a.action === 'halt.engage') - Number(b.action === 'halt.engage'))
    expect(others.length).toBeGreaterThanOrEqual(10)

    const changed: string[] = []
    const answered: string[] = []
    for (const route of others) {
      const before = await keyState()
      const { status } = await send(h.url, route, fill(route.path, ids), {
        token: h.adminToken,
        correlationId: `side-door-${dialect}`,
        body: sampleOf(route.body),
      })
      answered.push(`${route.method} ${route.path} ${status}`)
      // a handler may have woken the worker: give it the time to act, if it is going to
      await new Promise((resolve) => setTimeout(resolve, 150))
      if (JSON.stringify(await keyState()) !== JSON.stringify(before)) {
        changed.push(`${route.method} ${route.path} (${status})`)
      }
    }
    expect(changed).toEqual([])
    // the requests were real: none was refused by authentication or authorization
    expect(answered.filter((a) => / 40[13]$/.test(a))).toEqual([])
  })

  it('writes key versions and aliases only from the engine phases, enrolment and the keys repository', () => {
    const statement = (table: string) =>
      new RegExp(
        `(insertInto|updateTable|deleteFrom|replaceInto|mergeInto)\\(\\s*'${table}'|\\b(INSERT\\s+INTO|UPDATE|DELETE\\s+FROM)\\s+"?${table}\\b`,
        'g',
      )
    // file → the writes it may make; anything else, anywhere, is a side door
    const allowed: [RegExp, RegExp][] = [
      [/^src\/engine\/phases\//, /./],
      // a key's first version and aliases, when the active configuration enrols it
      [/^src\/engine\/keys\/key-enrollment\.ts$/, /^insertInto/],
      // clears a failed revoke's bookkeeping (revoke_started_at), not the version's state
      [/^src\/engine\/runs\/run-failure\.ts$/, /^updateTable\('key_versions'/],
      // an approved config change adds an alias name pointing at the active version; it never
      // moves an alias or touches a version
      [/^src\/config-changes\/sync\.ts$/, /^insertInto\('key_aliases'/],
      // moveVersion and pointAlias, called only by phases (checked below)
      [/^src\/store\/keys-repository\.ts$/, /./],
      [/^src\/store\/migrations\//, /./],
    ]
    const files = sourceFiles('src').filter((f) => !f.endsWith('.test.ts'))
    const found = files.flatMap((file) => {
      const text = readFileSync(file, 'utf8')
      return ['key_versions', 'key_aliases'].flatMap((table) =>
        [...text.matchAll(statement(table))].map((m) => ({ file, write: m[0] })),
      )
    })
    const sideDoors = found.filter(
      ({ file, write }) => !allowed.some(([where, what]) => where.test(file) && what.test(write)),
    )
    expect(sideDoors).toEqual([])
    const movers = files.filter(
      (f) =>
        f !== 'src/store/keys-repository.ts' && /\b(moveVersion|pointAlias)\b/.test(readFileSync(f, 'utf8')),
    )
    expect(movers.filter((f) => !f.startsWith('src/engine/phases/'))).toEqual([])
    // the scan does find the engine's own writes, so it is looking at the right code
    expect(found.some((w) => w.file.startsWith('src/engine/phases/'))).toBe(true)
  })
})

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return path.endsWith('.ts') ? [relative('.', path)] : []
  })
}

describe('fail closed', () => {
  it('refuses a route registered without an action to every role and to no token, and audits it', async () => {
    const store = await createTestStore('sqlite')
    const undeclared: FastifyPluginAsync = async (app) => {
      app.get('/v1/forgotten', async () => ({ leaked: true }))
      app.post('/v1/forgotten', async () => ({ leaked: true }))
    }
    const app = createHttpApp({
      logger: createLogger({ level: 'silent' }),
      db: store.db,
      tokenStore: (db) => createTokenStore(db),
      audit: createAuditLog(),
      alerts: createAlertService({ db: store.db }),
      halt: createHaltReader(store.db),
      metrics: createMetrics({ defaultMetrics: false }),
      ready: storeAnswers(store.db),
      routes: [undeclared],
    })
    try {
      await store.db
        .insertInto('keys')
        .values({
          id: 'k',
          provider: 'local',
          algorithm: 'aes-256-gcm',
          owner: 'o',
          policy: '{}',
          created_at: '2026-01-01T00:00:00.000Z',
          updated_at: '2026-01-01T00:00:00.000Z',
        })
        .execute()
      const tokenStore = createTokenStore(store.db)
      const answers: string[] = []
      for (const role of [...ROLES, null]) {
        const token =
          role === null
            ? undefined
            : (
                await tokenStore.create({
                  user: `${role}-user`,
                  role,
                  keyId: role === 'consumer' ? 'k' : undefined,
                  createdBy: 'test',
                })
              ).token
        for (const method of ['GET', 'POST'] as const) {
          const response = await app.inject({
            method,
            url: '/v1/forgotten',
            headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
          })
          answers.push(
            `${method} ${role ?? 'anonymous'} ${response.statusCode} ${response.json<Problem>().code}`,
          )
          expect(response.body).not.toContain('leaked')
        }
      }
      expect(answers).toEqual(
        [...ROLES, 'anonymous'].flatMap((r) => [`GET ${r} 403 FORBIDDEN`, `POST ${r} 403 FORBIDDEN`]),
      )
      const denials = await store.db
        .selectFrom('audit_events')
        .select('target')
        .where('action', '=', 'auth.denied')
        .execute()
      expect(denials).toHaveLength(answers.length)
      const doc = (await app.inject({ url: '/openapi.json' })).json<{
        paths: Record<string, Record<string, Record<string, unknown>>>
      }>()
      expect(doc.paths['/v1/forgotten']?.get?.['x-keyrotor-action']).toBeNull()
    } finally {
      await app.close()
      await store.dispose()
    }
  })
})

describe('the operator role (playbook: "Ownership and Access Control")', () => {
  const operator = ACTIONS.filter((action) => can('operator', action))

  it('may view, trigger approved workflows, drive runs and acknowledge alerts — nothing more', () => {
    // views: reads and the read-only checks (verify compares store, provider and dependents;
    // validate parses a file); any new operator power must be added here on purpose
    const views = ACTIONS.filter((a) => a.endsWith('.read') && a !== 'material.read')
    const expected = [
      ...views,
      'keys.verify',
      'config.validate',
      'rotation.trigger',
      // a request only: the run waits for a security approval operators cannot give
      'rotation.forward-correct',
      'runs.verify',
      'runs.retry',
      'runs.cancel',
      'alerts.ack',
    ]
    expect([...operator].sort()).toEqual([...expected].sort())
  })

  it('may not halt, release, approve, close incidents, change config, manage tokens or read material', () => {
    const forbidden: Action[] = [
      'halt.engage',
      'halt.release',
      'approvals.decide',
      'incidents.close',
      'config.propose',
      'config.apply',
      'tokens.manage',
      'material.read',
    ]
    expect(forbidden.filter((a) => can('operator', a))).toEqual([])
  })
})

describe('docs/security.md', () => {
  it('shows the same role matrix as PERMISSIONS, action by action', () => {
    const doc = readFileSync('docs/security.md', 'utf8')
    const table = doc.split('<!-- role-matrix:start -->')[1]?.split('<!-- role-matrix:end -->')[0] ?? ''
    const rows = table
      .split('\n')
      .filter((l) => l.startsWith('| `'))
      .map((l) =>
        l
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim()),
      )
    const header = table
      .split('\n')
      .find((l) => l.startsWith('| action'))
      ?.split('|')
      .slice(2, -1)
      .map((c) => c.trim())
    expect(header).toEqual([...ROLES])
    const documented = Object.fromEntries(
      rows.map(([action, ...marks]) => [
        (action ?? '').replace(/`/g, ''),
        ROLES.filter((_, i) => marks[i] === '✓'),
      ]),
    )
    const actual = Object.fromEntries(
      ACTIONS.map((a) => [a, ROLES.filter((r) => PERMISSIONS[a].includes(r))]),
    )
    expect(documented).toEqual(actual)
  })
})
