import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunView } from '../../src/engine/views.js'
import { ACTIONS, can, type Action } from '../../src/governance/permissions.js'
import { ROLES, type Role } from '../../src/domain/roles.js'
import { createAlertService } from '../../src/observability/alerts.js'
import { startHarness, waitForRun, type Harness } from '../helpers/harness.js'
import { DIALECTS } from '../helpers/stores.js'
import { fill, MATRIX_CONFIG, routesOf, send } from './table.js'

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
