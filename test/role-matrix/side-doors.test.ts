import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunView } from '../../src/engine/views.js'
import { createAlertService } from '../../src/observability/alerts.js'
import { startHarness, waitForRun, type Harness } from '../helpers/harness.js'
import { DIALECTS } from '../helpers/stores.js'
import { fill, MATRIX_CONFIG, routesOf, sampleOf, send } from './table.js'

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
