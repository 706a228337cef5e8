import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuditLog } from '../src/audit/audit-log.js'
import { createTokenStore } from '../src/governance/tokens.js'
import { createHttpApp } from '../src/http/app.js'
import { createHaltReader } from '../src/http/routes/halt.js'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAlertService, type AlertEvent, type RaiseAlert } from '../src/observability/alerts.js'
import { createLogger } from '../src/observability/logger.js'
import { createMetrics } from '../src/observability/metrics.js'
import { createDeliveryOutbox, type DeliveryOutbox } from '../src/observability/sinks/delivery-outbox.js'
import { createTestStore, DIALECTS, type TestStore } from './helpers/stores.js'

const failed = (runId: string): RaiseAlert => ({
  type: 'rotation_failed',
  severity: 'critical',
  key: 'payments-dek',
  runId,
  correlationId: `corr-${runId}`,
  message: `run ${runId} failed in create`,
})

describe.each(DIALECTS)('alerts on %s', (dialect) => {
  let store: TestStore
  const openCounts: number[] = []
  /** What a real webhook receiver got from the notification outbox, in order. */
  const received: { runId: string; event: AlertEvent; count: number }[] = []
  let receiver: Server
  let outbox: DeliveryOutbox
  let alerts: ReturnType<typeof createAlertService>

  beforeAll(async () => {
    store = await createTestStore(dialect)
    receiver = createServer((request, response) => {
      let body = ''
      request.on('data', (chunk: Buffer) => (body += chunk.toString()))
      request.on('end', () => {
        received.push(JSON.parse(body) as (typeof received)[number])
        response.end()
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    const { port } = receiver.address() as AddressInfo
    outbox = createDeliveryOutbox({
      db: store.db,
      targets: async () => [
        { id: 'hook', channel: 'alerts', type: 'webhook', url: `http://127.0.0.1:${port}/hook` },
      ],
      secretOf: () => undefined,
      log: { info: () => undefined, warn: () => undefined },
    })
    await outbox.refresh()
    alerts = createAlertService({ db: store.db, onChange: (n) => openCounts.push(n), outbox })
  })
  afterAll(async () => {
    await new Promise((resolve) => receiver?.close(resolve))
    await store?.dispose()
  })

  it('counts repeats of the same type, key and run on one alert, and tells the sinks', async () => {
    await alerts.raise(store.db, failed('r1'))
    await alerts.raise(store.db, failed('r1'))
    const third = await alerts.raise(store.db, { ...failed('r1'), message: 'still failing' })
    expect(third).toMatchObject({
      count: 3,
      state: 'open',
      message: 'still failing',
      correlationId: 'corr-r1',
    })
    expect(
      await store.db.selectFrom('alerts').select('id').where('run_id', '=', 'r1').execute(),
    ).toHaveLength(1)
    const other = await alerts.raise(store.db, failed('r2'))
    expect(other.id).not.toBe(third.id)
    // one pass sends the head of each alert's queue: the changes of r1 go out in order
    const ofR1 = () => received.filter((r) => r.runId === 'r1').map((r) => [r.event, r.count])
    for (let pass = 0; pass < 10 && ofR1().length < 3; pass++) await outbox.drainNow()
    expect(ofR1().slice(0, 3)).toEqual([
      ['raised', 1],
      ['repeated', 2],
      ['repeated', 3],
    ])
  })

  it('keeps one row with count 20 when 20 raises race', async () => {
    const raised = await Promise.all(Array.from({ length: 20 }, () => alerts.raise(store.db, failed('race'))))
    expect(new Set(raised.map((a) => a.id)).size).toBe(1)
    const rows = await store.db.selectFrom('alerts').selectAll().where('run_id', '=', 'race').execute()
    expect(rows.map((r) => Number(r.count))).toEqual([20])
  })

  it('moves an alert from open to acknowledged, and repeats keep it acknowledged', async () => {
    const alert = await alerts.raise(store.db, failed('ack'))
    const before = await alerts.openCount()
    const acked = await alerts.ack(alert.id, 'olga')
    expect(acked.state).toBe('acknowledged')
    expect(await alerts.openCount()).toBe(before - 1)
    expect(openCounts.at(-1)).toBe(before - 1)
    expect(await alerts.raise(store.db, failed('ack'))).toMatchObject({
      id: alert.id,
      state: 'acknowledged',
      count: 2,
    })
    expect((await alerts.list({ state: 'acknowledged' })).map((a) => a.id)).toContain(alert.id)
    await expect(alerts.ack('no-such-alert', 'olga')).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })

  it('raises a fresh alert after the previous one was resolved', async () => {
    const first = await alerts.raise(store.db, failed('again'))
    const resolved = await alerts.resolve({ runId: 'again' })
    expect(resolved.map((a) => [a.id, a.state])).toEqual([[first.id, 'resolved']])
    await expect(alerts.ack(first.id, 'olga')).rejects.toMatchObject({ code: 'ILLEGAL_TRANSITION' })
    const second = await alerts.raise(store.db, failed('again'))
    expect(second).toMatchObject({ state: 'open', count: 1 })
    expect(second.id).not.toBe(first.id)
    await expect(alerts.resolve({})).rejects.toMatchObject({ code: 'BAD_REQUEST' })
  })

  it('raises inside the caller transaction and leaves nothing when it rolls back', async () => {
    await expect(
      store.db.transaction().execute(async (trx) => {
        await alerts.raise(trx, failed('rolled-back'))
        throw new Error('the phase failed to commit')
      }),
    ).rejects.toThrow('the phase failed to commit')
    expect(
      await store.db.selectFrom('alerts').select('id').where('run_id', '=', 'rolled-back').execute(),
    ).toEqual([])
  })

  it('serves the contract metric names, with the open-alert gauge read from the store', async () => {
    const app = createHttpApp({
      logger: createLogger({ level: 'silent' }),
      db: store.db,
      tokenStore: (db) => createTokenStore(db),
      audit: createAuditLog(),
      alerts,
      halt: createHaltReader(store.db),
      metrics: createMetrics(),
      ready: async () => true,
    })
    const text = (await app.inject({ url: '/metrics' })).body
    await app.close()
    expect(text).toContain(`keyrotor_alerts_open ${await alerts.openCount()}`)
    expect(text).toContain('keyrotor_halt_engaged 0')
    for (const name of [
      'keyrotor_runs_total',
      'keyrotor_run_duration_seconds',
      'keyrotor_phase_duration_seconds',
      'process_cpu_user_seconds_total',
    ]) {
      expect(text).toContain(`# TYPE ${name}`)
    }
  })
})

describe('metrics', () => {
  it('records runs, phases and gauges under the contract names, in a registry of its own', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    metrics.runFinished('rotate', 'succeeded', 12)
    metrics.phaseFinished('promote', 0.3)
    metrics.setAlertsOpen(2)
    metrics.setHaltEngaged(true)
    const text = await metrics.render()
    expect(text).toContain('keyrotor_runs_total{kind="rotate",outcome="succeeded"} 1')
    expect(text).toContain('keyrotor_run_duration_seconds_bucket{le="15"} 1')
    expect(text).toContain('keyrotor_phase_duration_seconds_count{phase="promote"} 1')
    expect(text).toContain('keyrotor_alerts_open 2')
    expect(text).toContain('keyrotor_halt_engaged 1')
    // another registry is untouched by these: its series are there, at 0
    expect(await createMetrics({ defaultMetrics: false }).render()).toContain(
      'keyrotor_runs_total{kind="rotate",outcome="succeeded"} 0',
    )
  })
})
