import { afterEach, describe, expect, it } from 'vitest'
import { startDataKeyService } from '../src/demo/sample-services.js'
import type { ScheduleView } from '../src/engine/schedule/rotation-scheduler.js'
import { runCliProcess } from './helpers/cli.js'
import { startHarness, type Harness } from './helpers/harness.js'
import { serveWithSlowProbes, until } from './helpers/instances.js'
import { keyYaml, planDependent, secretsOf } from './helpers/sample-dependents.js'
import { call } from './helpers/http.js'
import { createServerFixture, type ServerFixture } from './helpers/harness.js'
import { DIALECTS } from './helpers/stores.js'
import { activeVersionOf } from '../src/store/keys-repository.js'

/** The built-in schedule (issue 6): keys rotate on their own, inside their windows, once each. */

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

function periodKey(id: string, period: string, extra = ''): string {
  return keyYaml({
    id,
    algorithm: 'aes-256-gcm',
    dependents: [],
    policy: `{ rotationPeriod: ${period}, gracePeriod: 1h, phaseTimeout: 10s${extra} }`,
  })
}

/** A cron expression for a one-minute window that opens about two hours from now (UTC). */
function windowTwoHoursAhead(): { cron: string; opens: Date } {
  const opens = new Date(Date.now() + 2 * 3_600_000)
  opens.setUTCSeconds(0, 0)
  return { cron: `${opens.getUTCMinutes()} ${opens.getUTCHours()} * * *`, opens }
}

interface RunRow {
  id: string
  key_id: string
  state: string
  idempotency_key: string | null
  trigger: string
  priority: number
}

async function scheduledRuns(h: Harness): Promise<RunRow[]> {
  return h.keyrotor.store.db
    .selectFrom('runs')
    .select(['id', 'key_id', 'state', 'idempotency_key', 'trigger', 'priority'])
    .where('trigger', '=', 'scheduler')
    .orderBy('created_at')
    .execute()
}

const activeVersion = (h: Harness, key: string) => activeVersionOf(h.keyrotor.store.db, key)

describe.each(DIALECTS)('the built-in rotation scheduler on %s', (dialect) => {
  it('rotates a key with a 2s rotationPeriod on its own, exactly once per active version', async () => {
    const h = await startHarness(dialect, `keys:${periodKey('auto-dek', '2s')}`, { schedulerIntervalMs: 100 })
    closers.push(() => h.stop())

    await until(
      'v3 to be active',
      async () => ((await activeVersion(h, 'auto-dek')) === 3 ? true : undefined),
      20_000,
    )
    await until(
      'the second scheduled run to end',
      async () => {
        const runs = await scheduledRuns(h)
        return runs.length >= 2 && runs.slice(0, 2).every((r) => r.state === 'succeeded') ? true : undefined
      },
      10_000,
    )

    const runs = (await scheduledRuns(h)).slice(0, 2)
    expect(runs.map((r) => r.idempotency_key)).toEqual(['sched:auto-dek:v1', 'sched:auto-dek:v2'])
    expect(runs.every((r) => r.priority === 3 && r.key_id === 'auto-dek')).toBe(true)
    // one run per version: every scheduled run has its own idempotency key
    const all = await scheduledRuns(h)
    expect(new Set(all.map((r) => r.idempotency_key)).size).toBe(all.length)
  })

  it('lists a due key outside its window with the next opening, and does not rotate it', async () => {
    const { cron, opens } = windowTwoHoursAhead()
    const freeze = `{ from: "${new Date(Date.now() - 3_600_000).toISOString()}", to: "${new Date(Date.now() + 3_600_000).toISOString()}", reason: "test freeze", keys: [frozen-dek] }`
    const yaml = `keys:${periodKey('windowed-dek', '1s', ', window: later')}${periodKey('frozen-dek', '1s')}${keyYaml({ id: 'manual-dek', algorithm: 'aes-256-gcm', dependents: [] })}
windows:
  later: { cron: "${cron}", duration: 1m, timezone: UTC }
blackouts:
  - ${freeze}
`
    const h = await startHarness(dialect, yaml, { schedulerIntervalMs: 100 })
    closers.push(() => h.stop())
    // both keys are overdue once their 1s period has passed; several passes must start nothing
    await until(
      'the keys to fall due',
      async () => {
        const view = await h.keyrotor.scheduler.plan()
        return view.keys.every((k) => k.status !== 'not_due') ? true : undefined
      },
      5_000,
    )
    for (let pass = 0; pass < 3; pass++) expect(await h.keyrotor.scheduler.tick()).toBe(0)

    const result = await runCliProcess(['schedule', '--json'], {
      KEYROTOR_URL: h.url,
      KEYROTOR_TOKEN: h.adminToken,
    })
    expect(result.code).toBe(0)
    const view = JSON.parse(result.stdout) as ScheduleView
    const byKey = new Map(view.keys.map((k) => [k.key, k]))
    expect(byKey.get('windowed-dek')).toMatchObject({
      status: 'outside_window',
      nextAttemptAt: opens.toISOString(),
    })
    expect(byKey.get('windowed-dek')?.reason).toContain('next opening')
    expect(byKey.get('frozen-dek')).toMatchObject({ status: 'blackout' })
    expect(byKey.get('frozen-dek')?.reason).toContain('test freeze')
    expect(byKey.get('manual-dek')).toMatchObject({ status: 'no_period', dueAt: null })
    expect(await scheduledRuns(h)).toEqual([])

    const human = await runCliProcess(['schedule'], { KEYROTOR_URL: h.url, KEYROTOR_TOKEN: h.adminToken })
    expect(human.stdout).toMatch(/windowed-dek .* outside_window /)
  })

  it('never has more scheduled runs in progress than schedulerConcurrency', async () => {
    const keys = ['fleet-a', 'fleet-b', 'fleet-c', 'fleet-d', 'fleet-e']
    const deps = await Promise.all(keys.map((k) => planDependent(`${k}-api`)))
    const yaml = `keys:${keys
      .map((id, i) =>
        keyYaml({
          id,
          algorithm: 'aes-256-gcm',
          dependents: [deps[i] ?? deps[0]!],
          policy: '{ rotationPeriod: 1s, gracePeriod: 1h, phaseTimeout: 10s }',
        }),
      )
      .join('')}`
    // a long interval: nothing starts until every dependent answers and the test ticks
    const h = await startHarness(dialect, yaml, {
      secrets: secretsOf(deps),
      schedulerIntervalMs: 3_600_000,
      schedulerConcurrency: 2,
    })
    closers.push(() => h.stop())
    for (const [i, key] of keys.entries()) {
      const dep = deps[i]!
      const { token } = (
        await h.api<{ token: string }>('POST', '/v1/tokens', { user: dep.name, role: 'consumer', key })
      ).body
      const service = await startDataKeyService({
        key,
        keyrotorUrl: h.url,
        token,
        secret: dep.secret,
        port: 0,
      })
      closers.push(() => service.close())
      // slow probes keep each run in flight for a while, so the limit is what holds them back
      const slow = await serveWithSlowProbes(service.dependent.handler, dep.port, 150)
      closers.push(() => slow.close())
    }

    let most = 0
    const watch = setInterval(() => {
      void h.keyrotor.store.db
        .selectFrom('runs')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('trigger', '=', 'scheduler')
        .where('state', 'in', ['queued', 'running', 'awaiting_approval'])
        .executeTakeFirst()
        .then((row) => (most = Math.max(most, Number(row?.n ?? 0))))
    }, 10)
    try {
      await until(
        'every key to be rotated by the schedule',
        async () => {
          await h.keyrotor.scheduler.tick()
          const versions = await Promise.all(keys.map((k) => activeVersion(h, k)))
          return versions.every((v) => v !== undefined && v >= 2) ? true : undefined
        },
        60_000,
        50,
      )
    } finally {
      clearInterval(watch)
    }
    expect(most).toBeLessThanOrEqual(2)
    expect(most).toBe(2)
    const failed = (await scheduledRuns(h)).filter(
      (r) => !['succeeded', 'queued', 'running'].includes(r.state),
    )
    expect(failed).toEqual([])
  })
})

describe.skipIf(!DIALECTS.includes('postgres'))('the scheduler on two server processes', () => {
  let fixture: ServerFixture | undefined
  afterEach(async () => {
    await fixture?.dispose()
    fixture = undefined
  })

  it('starts each due rotation exactly once across both instances', async () => {
    const keys = ['twin-a', 'twin-b', 'twin-c']
    fixture = await createServerFixture('postgres', `keys:${keys.map((k) => periodKey(k, '2s')).join('')}`)
    const [one] = [await fixture.start({}), await fixture.start({})]
    const admin = fixture.adminToken
    const versionsOf = async () =>
      (
        await call<{ id: string; versions: { version: number; state: string }[] }[]>(
          one.url,
          admin,
          'GET',
          '/v1/keys',
        )
      ).body
    await until(
      'every key to reach v3',
      async () => {
        const list = await versionsOf()
        return list.every((k) => k.versions.some((v) => v.version === 3 && v.state === 'active'))
          ? list
          : undefined
      },
      30_000,
    )

    const runs = (
      await call<{ key: string; idempotencyKey: string | null; trigger: string; state: string }[]>(
        one.url,
        admin,
        'GET',
        '/v1/runs',
      )
    ).body
    const scheduled = runs.filter((r) => r.trigger === 'scheduler')
    for (const key of keys) {
      const ids = scheduled
        .filter((r) => r.key === key)
        .map((r) => r.idempotencyKey)
        .sort()
      expect(ids.slice(0, 2)).toEqual([`sched:${key}:v1`, `sched:${key}:v2`])
      expect(new Set(ids).size, `no idempotency key of ${key} has two runs`).toBe(ids.length)
    }
    expect(scheduled.filter((r) => r.state === 'failed')).toEqual([])
  })
})
