import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { startDataKeyService, type DataKeyService } from '../src/demo/sample-services.js'
import type { RunView } from '../src/engine/views.js'
import type { Problem } from '../src/http/problem.js'
import type { Alert } from '../src/observability/alerts.js'
import { exitOf } from './helpers/cli.js'
import {
  captureLogs,
  pauseOutsideTransaction,
  serveWithSlowProbes,
  until,
  type LogLine,
} from './helpers/instances.js'
import { keyYaml, planDependent, secretsOf, type PlannedDependent } from './helpers/sample-dependents.js'
import { call } from './helpers/http.js'
import { createServerFixture, type ServerFixture, type ServerProcess } from './helpers/harness.js'
import { DIALECTS } from './helpers/stores.js'

/**
 * DESIGN §4.1–4.3 and §6 with real processes: three `keyrotor server`s on one PostgreSQL schema,
 * coordinating only through it. The sample dependents answer their probes slowly, so that every
 * run stays in flight long enough to be raced (triggers) or caught holding a lease (faults).
 */

const ROTATE_PHASES = ['preflight', 'create', 'distribute', 'promote', 'confirm', 'validate']
const LEASE_TTL = '2s'
const POLICY = '{ gracePeriod: 1h, phaseTimeout: 20s }'

interface Instance extends ServerProcess {
  name: string
  /** Its database connections' application_name (PGAPPNAME), to see them in pg_stat_activity. */
  applicationName: string
  logs: LogLine[]
}

interface RunRecord {
  id: string
  key_id: string
  state: string
  phase: string
  fencing_token: number
  lease_owner: string | null
}

describe.skipIf(!DIALECTS.includes('postgres'))('three server processes on one PostgreSQL database', () => {
  let fixture: ServerFixture | undefined
  let db: pg.Client | undefined
  let instances: Instance[] = []
  const closers: (() => Promise<void>)[] = []

  afterEach(async () => {
    // SIGKILL also ends a SIGSTOPped process; wait for each exit so no process outlives the test
    for (const { child } of instances) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exitOf(child)
      }
    }
    for (const close of closers.splice(0)) await close()
    await db?.end()
    await fixture?.dispose()
    fixture = db = undefined
    instances = []
  })

  /** The fixture, three instances on it (started one after another), and a client on its schema. */
  async function startThree(configYaml: string, secrets: Record<string, string>): Promise<Instance[]> {
    fixture = await createServerFixture('postgres', configYaml, { secrets: secrets })
    const tag = randomBytes(4).toString('hex')
    for (const name of ['A', 'B', 'C']) {
      const applicationName = `keyrotor-instances-${tag}-${name}`
      const server = await fixture.start({ leaseTtl: LEASE_TTL, env: { PGAPPNAME: applicationName } })
      instances.push({ ...server, name, applicationName, logs: captureLogs(server.child) })
    }
    db = new pg.Client({ connectionString: fixture.databaseUrl })
    await db.connect()
    return instances
  }

  /** A sample data-key service for `key` whose probes answer after `probeDelayMs`. */
  async function startDependent(
    dep: PlannedDependent,
    key: string,
    keyrotorUrl: string,
    probeDelayMs: number,
  ): Promise<DataKeyService> {
    const admin = (fixture as ServerFixture).adminToken
    const token = (
      await call<{ token: string }>(keyrotorUrl, admin, 'POST', '/v1/tokens', {
        user: dep.name,
        role: 'consumer',
        key,
      })
    ).body.token
    const service = await startDataKeyService({ key, keyrotorUrl, token, secret: dep.secret, port: 0 })
    closers.push(() => service.close())
    const slow = await serveWithSlowProbes(service.dependent.handler, dep.port, probeDelayMs)
    closers.push(() => slow.close())
    return service
  }

  async function query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    return (await (db as pg.Client).query<R>(text, values)).rows
  }

  it('starts exactly one run from fifty simultaneous triggers spread over the instances', async () => {
    const dep = await planDependent('ledger-api')
    const key = 'ledger-dek'
    const yaml = `keys:${keyYaml({ id: key, algorithm: 'aes-256-gcm', dependents: [dep], policy: POLICY })}`
    const servers = await startThree(yaml, secretsOf([dep]))
    const admin = (fixture as ServerFixture).adminToken
    // about 2 s per run: the fifty answers all come while the one run is still live
    await startDependent(dep, key, servers[0]?.url ?? '', 500)

    const triggers = Array.from({ length: 50 }, (_, i) => ({
      url: servers[i % servers.length]?.url ?? '',
      idempotent: i % 2 === 0,
    }))
    const answers = await Promise.all(
      triggers.map(async ({ url, idempotent }) => ({
        idempotent,
        ...(await call<RunView & Problem>(url, admin, 'POST', `/v1/keys/${key}/rotations`, {
          ...(idempotent ? { idempotencyKey: 'fifty-triggers' } : {}),
          reason: 'instances test',
        })),
      })),
    )
    const lastAnswerAt = Date.now()

    const created = answers.filter((a) => a.status === 201)
    const repeated = answers.filter((a) => a.status === 200)
    const refused = answers.filter((a) => a.status === 409)
    expect(created, 'exactly one trigger starts a run').toHaveLength(1)
    const winner = created[0]?.body as RunView
    expect(
      created.length + repeated.length + refused.length,
      JSON.stringify(answers.map((a) => a.status)),
    ).toBe(50)
    // a 200 is a repeat of the idempotency key and names the one run; a 409 is the concurrency refusal
    for (const a of repeated) {
      expect(a.idempotent).toBe(true)
      expect(a.body.id).toBe(winner.id)
    }
    for (const a of refused) {
      expect(a.body.code).toBe('CONCURRENT_ROTATION')
      expect(a.body.runId).toBe(winner.id)
    }

    const run = await until(
      'the run to end',
      async () => {
        const { body } = await call<RunView>(servers[2]?.url ?? '', admin, 'GET', `/v1/runs/${winner.id}`)
        return body.finishedAt === null ? undefined : body
      },
      45_000,
    )
    expect(run.state).toBe('succeeded')
    expect(
      Date.parse(run.finishedAt ?? ''),
      'the run ended before every trigger was answered: the race was not against a live run',
    ).toBeGreaterThan(lastAnswerAt)
    expect(run.duplicateCount, 'every repeat of the idempotency key is counted').toBe(repeated.length)

    const runs = await query<RunRecord>('SELECT id, state FROM runs WHERE key_id = $1', [key])
    expect(runs).toEqual([expect.objectContaining({ id: winner.id, state: 'succeeded' })])
    const versions = await query<{ version: number; state: string }>(
      'SELECT version, state FROM key_versions WHERE key_id = $1 ORDER BY version',
      [key],
    )
    expect(versions).toEqual([
      { version: 1, state: 'retiring' },
      { version: 2, state: 'active' },
    ])
    expect(await eventCounts(winner.id)).toEqual(onceEach())
    // every refusal raised (or counted on) the concurrent-rotation alert
    const alerts = (await call<Alert[]>(servers[1]?.url ?? '', admin, 'GET', '/v1/alerts')).body
    const concurrent = alerts.filter((a) => a.type === 'concurrent_rotation' && a.key === key)
    expect(concurrent.reduce((n, a) => n + a.count, 0)).toBe(refused.length)

    console.info(
      `fifty triggers over ${servers.length} instances: 1 created (${winner.idempotencyKey === null ? 'no' : 'with the'} idempotency key), ` +
        `${repeated.length} repeats (200), ${refused.length} refused (409), 1 run, versions [1, 2]`,
    )
  })

  it('finishes every run exactly once when one instance is paused past its lease and another killed, and the paused one writes nothing once resumed', async () => {
    const keys = Array.from({ length: 6 }, (_, i) => `tenant-${i + 1}-dek`)
    const deps = await Promise.all(keys.map((key) => planDependent(`${key}-service`)))
    const yaml = `keys:${keys
      .map((key, i) =>
        keyYaml({
          id: key,
          algorithm: 'aes-256-gcm',
          dependents: [deps[i] as PlannedDependent],
          policy: POLICY,
        }),
      )
      .join('')}`
    const [paused, killed, survivor] = (await startThree(yaml, secretsOf(deps))) as [
      Instance,
      Instance,
      Instance,
    ]
    const admin = (fixture as ServerFixture).adminToken
    // the services load material from the survivor: the test is about the engine, not their failover
    const services = await Promise.all(
      keys.map((key, i) => startDependent(deps[i] as PlannedDependent, key, survivor.url, 700)),
    )
    const records = services.map((s) => s.encrypt('written under v1'))

    // One trigger at a time, each to the instance holding the fewest runs: the instance a trigger
    // reaches is woken and claims the run at once (the others only poll), so the runs spread
    // over all three; an occasional claim by a polling instance is evened out by the next trigger.
    const heldBy = (instance: Instance, rows: RunRecord[]) =>
      rows.filter((r) => r.state === 'running' && ownedBy(r, instance))
    const triggered: RunView[] = []
    let held: RunRecord[] = []
    for (const key of keys) {
      const loads = instances.map((i) => heldBy(i, held).length)
      const target = instances[loads.indexOf(Math.min(...loads))] as Instance
      const { status, body } = await call<RunView>(target.url, admin, 'POST', `/v1/keys/${key}/rotations`, {
        idempotencyKey: `instances-${key}`,
      })
      expect(status, JSON.stringify(body)).toBe(201)
      triggered.push(body)
      held = await until(
        `the run of ${key} to be claimed`,
        async () => {
          const rows = await runRows()
          return rows.some((r) => r.id === body.id && r.lease_owner !== null) ? rows : undefined
        },
        10_000,
        10,
      )
    }
    expect(
      heldBy(paused, held).length,
      `${paused.name} holds no run: ${JSON.stringify(held)}`,
    ).toBeGreaterThan(0)
    expect(
      heldBy(killed, held).length,
      `${killed.name} holds no run: ${JSON.stringify(held)}`,
    ).toBeGreaterThan(0)

    const pausedAt = Date.now()
    const { attempts } = await pauseOutsideTransaction(db as pg.Client, paused, paused.applicationName)
    killed.child.kill('SIGKILL')
    await exitOf(killed.child)
    expect(killed.child.signalCode).toBe('SIGKILL')
    // what each of them held, its phase in flight, at the moment it stopped
    const atFault = await runRows()
    const pausedRuns = heldBy(paused, atFault)
    const killedRuns = heldBy(killed, atFault)
    const orphaned = [...pausedRuns, ...killedRuns]
    expect(pausedRuns.length, `${paused.name} finished its runs before the pause`).toBeGreaterThan(0)
    expect(killedRuns.length, `${killed.name} finished its runs before the kill`).toBeGreaterThan(0)

    const finished = await until(
      'the survivor to finish every run',
      async () => {
        const rows = await runRows()
        return rows.every((r) => ['succeeded', 'failed', 'halted', 'cancelled'].includes(r.state))
          ? rows
          : undefined
      },
      60_000,
    )
    const finishedAfterMs = Date.now() - pausedAt
    expect(finished.map((r) => r.state)).toEqual(keys.map(() => 'succeeded'))
    for (const run of orphaned) {
      // claimed again, with a fresh fencing token, and finished by the survivor alone
      expect(finished.find((r) => r.id === run.id)?.fencing_token).toBeGreaterThan(run.fencing_token)
      const finishers = await until(
        `the log line of the success of ${run.id}`,
        () => {
          const names = instances.filter((i) =>
            i.logs.some((l) => l.msg === 'run succeeded' && l.runId === run.id),
          )
          return names.length === 0 ? undefined : names.map((i) => i.name)
        },
        5_000,
      )
      expect(finishers, run.id).toEqual([survivor.name])
    }
    expect(paused.child.exitCode, 'the paused instance is still there').toBeNull()

    // the paused instance wakes with stale claims: every write it tries must be refused
    const before = await snapshot()
    const resumedAt = Date.now()
    paused.child.kill('SIGCONT')
    const refusals = await until(
      `${paused.name} to log the refusal of each run it held`,
      () => {
        const lines = paused.logs.filter(
          (l) =>
            l.readAt >= resumedAt &&
            l.msg === 'run stopped without an outcome' &&
            l.err?.code === 'STALE_LEASE',
        )
        return pausedRuns.every((r) => lines.some((l) => l.runId === r.id)) ? lines : undefined
      },
      15_000,
    )
    expect(refusals.every((l) => l.level === 'warn')).toBe(true)
    // the one fixed wait: a window for anything else the woken process might still write
    await sleep(Math.max(0, resumedAt + 3_000 - Date.now()))
    expect(await snapshot(), 'the resumed instance changed the store').toEqual(before)
    const wokeLines = paused.logs.filter((l) => l.readAt >= resumedAt)
    expect(wokeLines.filter((l) => /run (succeeded|failed|halted)/.test(l.msg))).toEqual([])
    expect(wokeLines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([])

    // every run: one row per key, succeeded once, each phase completed once, versions [1, 2]
    for (const [i, key] of keys.entries()) {
      const rows = await query<RunRecord>('SELECT id, state FROM runs WHERE key_id = $1', [key])
      expect(rows, key).toEqual([{ id: triggered[i]?.id, state: 'succeeded' }])
      expect(await eventCounts(triggered[i]?.id ?? ''), key).toEqual(onceEach())
      const versions = await query<{ version: number; state: string }>(
        'SELECT version, state FROM key_versions WHERE key_id = $1 ORDER BY version',
        [key],
      )
      expect(versions, key).toEqual([
        { version: 1, state: 'retiring' },
        { version: 2, state: 'active' },
      ])
      const service = services[i] as DataKeyService
      expect(service.probeAnswer()).toMatchObject({ accepts: [1, 2], active: 2 })
      expect(service.decrypt(records[i] as (typeof records)[number])).toBe('written under v1')
    }

    const inDoubt = await query<{ n: string }>(
      "SELECT count(*) AS n FROM run_events WHERE type = 'phase.in_doubt'",
    )
    console.info(
      `${keys.length} runs on 3 instances: ${paused.name} paused (pid ${paused.child.pid}, ${pausedRuns.length} runs, ` +
        `${attempts} attempt(s) to stop it outside a transaction), ${killed.name} killed (pid ${killed.child.pid}, ` +
        `${killedRuns.length} runs), ${survivor.name} held ${heldBy(survivor, atFault).length} and finished all ` +
        `${finishedAfterMs} ms after the pause; ${inDoubt[0]?.n ?? 0} in-doubt phases settled; ` +
        `${refusals.length} stale-lease refusals after SIGCONT; duplicates found: 0`,
    )
  })

  async function runRows(): Promise<RunRecord[]> {
    return query<RunRecord>(
      'SELECT id, key_id, state, phase, fencing_token, lease_owner FROM runs ORDER BY key_id',
    )
  }

  /** How often each success and phase completion was journaled for one run. */
  async function eventCounts(runId: string): Promise<Record<string, number>> {
    const rows = await query<{ type: string; phase: string | null; n: string }>(
      `SELECT type, phase, count(*) AS n FROM run_events
        WHERE run_id = $1 AND type IN ('run.succeeded', 'phase.completed') GROUP BY type, phase`,
      [runId],
    )
    return Object.fromEntries(
      rows.map((r) => [r.type === 'run.succeeded' ? r.type : `${r.type}:${r.phase ?? ''}`, Number(r.n)]),
    )
  }

  /** Everything a worker writes: the runs, their journal, key and provider state, alerts, audit. */
  async function snapshot(): Promise<Record<string, unknown>> {
    return {
      runs: await query('SELECT * FROM runs ORDER BY id'),
      runEvents: await query('SELECT count(*) AS n, max(id) AS last FROM run_events'),
      keyVersions: await query('SELECT * FROM key_versions ORDER BY key_id, version'),
      keyAliases: await query('SELECT * FROM key_aliases ORDER BY name'),
      dependents: await query('SELECT * FROM dependents ORDER BY key_id, name'),
      localKeystore: await query(
        'SELECT key_id, version, state FROM local_keystore ORDER BY key_id, version',
      ),
      localAliases: await query('SELECT * FROM local_aliases ORDER BY alias'),
      alerts: await query('SELECT id, count, state, updated_at FROM alerts ORDER BY id'),
      audit: await query('SELECT count(*) AS n, max(seq) AS last FROM audit_events'),
      halt: await query('SELECT * FROM halt'),
    }
  }
})

function onceEach(): Record<string, number> {
  return Object.fromEntries([
    ['run.succeeded', 1],
    ...ROTATE_PHASES.map((phase) => [`phase.completed:${phase}`, 1]),
  ])
}

/** A lease owner is `host:pid:nonce`. */
function ownedBy(run: RunRecord, instance: Instance): boolean {
  return run.lease_owner?.split(':')[1] === String(instance.child.pid)
}
