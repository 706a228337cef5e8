import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../src/demo/free-port.js'
import { startDataKeyService } from '../src/demo/sample-services.js'
import type { RunView } from '../src/engine/views.js'
import type { Problem } from '../src/http/problem.js'
import { exitOf } from './helpers/cli.js'
import { until } from './helpers/instances.js'
import { keyYaml, planDependent, secretsOf } from './helpers/sample-dependents.js'
import { call } from './helpers/http.js'
import { createServerFixture, type ServerFixture, type ServerProcess } from './helpers/harness.js'
import { DIALECTS } from './helpers/stores.js'

/**
 * Issue 9 items 1 and 5 with real processes and a real PostgreSQL: two keyrotor servers on one
 * schema, duplicate triggers spread over both, and keyrotor's backends terminated
 * (pg_terminate_backend, what a failover or a restart does to them) again and again while the
 * rotations run. Before: `Unhandled 'error' event … 57P01` ended the process, and deadlocks on the
 * audit head answered 500.
 */

const KEYS = ['alpha-dek', 'beta-dek', 'gamma-dek']
const ROUNDS = 2
const COPIES = 4
const POLICY = '{ gracePeriod: 1h, phaseTimeout: 30s }'

interface Answer {
  status: number
  body: RunView & Problem
  retryAfter: string | null
}

describe.skipIf(!DIALECTS.includes('postgres'))('PostgreSQL connections dropped under load', () => {
  let fixture: ServerFixture | undefined
  const servers: ServerProcess[] = []
  const closers: (() => Promise<void>)[] = []

  afterAll(async () => {
    for (const { child } of servers) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exitOf(child)
      }
    }
    for (const close of closers) await close()
    await fixture?.dispose()
  })

  it('keeps both servers up, attaches every repeated trigger, ends every run succeeded and keeps the audit chain whole', async () => {
    const deps = await Promise.all(KEYS.map((key) => planDependent(`${key}-svc`)))
    const yaml = `keys:${KEYS.map((key, i) =>
      keyYaml({ id: key, algorithm: 'aes-256-gcm', dependents: [deps[i]!], policy: POLICY }),
    ).join('')}`
    fixture = await createServerFixture('postgres', yaml, { secrets: secretsOf(deps) })
    const tag = randomBytes(4).toString('hex')
    const names = ['A', 'B'].map((n) => `keyrotor-pgfaults-${tag}-${n}`)
    for (const applicationName of names)
      servers.push(await fixture.start({ env: { PGAPPNAME: applicationName }, leaseTtl: '2s' }))
    const admin = fixture.adminToken
    for (const [i, key] of KEYS.entries()) {
      const { token } = (
        await call<{ token: string }>(servers[0]!.url, admin, 'POST', '/v1/tokens', {
          user: `${key}-svc`,
          role: 'consumer',
          key,
        })
      ).body
      const service = await startDataKeyService({
        key,
        keyrotorUrl: servers[0]!.url,
        token,
        secret: deps[i]!.secret,
        port: deps[i]!.port,
      })
      closers.push(() => service.close())
    }

    // the fault: every 250 ms, terminate whatever backends the two servers hold
    const killer = new pg.Client({ connectionString: fixture.databaseUrl })
    await killer.connect()
    let terminated = 0
    let killing = true
    const killing$ = (async () => {
      while (killing) {
        const { rows } = await killer.query<{ ok: boolean }>(
          'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = ANY($1)',
          [names],
        )
        terminated += rows.filter((r) => r.ok).length
        await sleep(250)
      }
    })()

    // each round: every key triggered COPIES times with one idempotency key, alternately on A and B
    const answers: Answer[] = []
    const acknowledged = new Map<string, string>()
    for (let round = 1; round <= ROUNDS; round++) {
      await Promise.all(
        KEYS.flatMap((key) =>
          Array.from({ length: COPIES }, async (_, copy) => {
            const idempotencyKey = `${key}-round-${round}`
            const url = servers[copy % servers.length]!.url
            // a scheduler reruns on 503 (Retry-After): safe, the idempotency key attaches
            for (let attempt = 0; attempt < 20; attempt++) {
              const answer = await post(url, admin, `/v1/keys/${key}/rotations`, { idempotencyKey })
              answers.push(answer)
              if (answer.status === 200 || answer.status === 201) {
                const known = acknowledged.get(idempotencyKey)
                expect(known ?? answer.body.id, `one run per idempotency key ${idempotencyKey}`).toBe(
                  answer.body.id,
                )
                acknowledged.set(idempotencyKey, answer.body.id)
                return
              }
              if (answer.status !== 503) return
              await sleep(200)
            }
          }),
        ),
      )
      // the round's runs end before the next round triggers (one live run per key)
      await Promise.all(
        KEYS.map((key) => {
          const id = acknowledged.get(`${key}-round-${round}`)
          return id === undefined ? Promise.resolve() : waitEnded(servers, admin, id)
        }),
      )
    }
    killing = false
    await killing$
    await killer.end()

    const statuses = answers.map((a) => a.status)
    expect(terminated, 'backends were terminated during the rotations').toBeGreaterThan(3)
    expect(
      statuses.filter((s) => ![200, 201, 503].includes(s)),
      `no 500, no refusal: ${statuses.join(',')}`,
    ).toEqual([])
    for (const a of answers.filter((x) => x.status === 503)) {
      expect(a.body.code).toBe('STORE_UNAVAILABLE')
      expect(a.retryAfter).not.toBeNull()
    }
    for (const server of servers) expect(server.child.exitCode, 'the server is still running').toBeNull()
    expect(acknowledged.size, 'every trigger was acknowledged in the end').toBe(KEYS.length * ROUNDS)

    const db = new pg.Client({ connectionString: fixture.databaseUrl })
    await db.connect()
    try {
      const runs = (
        await db.query<{ idempotency_key: string; state: string; failure_message: string | null }>(
          'SELECT idempotency_key, state, failure_message FROM runs WHERE kind = $1 ORDER BY created_at',
          ['rotate'],
        )
      ).rows
      // no acknowledged run lost, none duplicated, each ended succeeded (its new version is active)
      expect(runs.map((r) => r.idempotency_key).sort()).toEqual([...acknowledged.keys()].sort())
      expect(runs.filter((r) => r.state !== 'succeeded')).toEqual([])
      for (const key of KEYS) {
        const active = await db.query<{ version: number }>(
          "SELECT version FROM key_versions WHERE key_id = $1 AND state = 'active'",
          [key],
        )
        expect(active.rows.map((r) => r.version)).toEqual([ROUNDS + 1])
      }
    } finally {
      await db.end()
    }
    const verify = await call<{ valid: boolean }>(servers[1]!.url, admin, 'GET', '/v1/audit/verify')
    expect(verify.body.valid, JSON.stringify(verify.body)).toBe(true)
    console.info(
      `postgres faults: ${terminated} backends terminated, ${answers.length} triggers ` +
        `(${statuses.filter((s) => s === 201).length} created, ${statuses.filter((s) => s === 200).length} attached, ` +
        `${statuses.filter((s) => s === 503).length} 503), ${acknowledged.size} runs, all succeeded`,
    )
  }, 180_000)
})

describe.skipIf(!DIALECTS.includes('postgres'))('duplicate triggers on two instances', () => {
  let fixture: ServerFixture | undefined
  const servers: ServerProcess[] = []
  const closers: (() => Promise<void>)[] = []

  afterAll(async () => {
    for (const { child } of servers) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exitOf(child)
      }
    }
    for (const close of closers) await close()
    await fixture?.dispose()
  })

  it('answers 200 simultaneous triggers without a deadlock: a repeated idempotency key always attaches', async () => {
    const keys = ['one-dek', 'two-dek', 'three-dek', 'four-dek']
    // a dependent that never answers: each run waits in pre-flight while the triggers race
    const port = await freePort()
    const hanging = createServer(() => undefined)
    await new Promise<void>((resolve) => hanging.listen(port, '127.0.0.1', resolve))
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          hanging.closeAllConnections()
          hanging.close(() => resolve())
        }),
    )
    const yaml = `keys:${keys
      .map(
        (key) => `
  - id: ${key}
    provider: local
    algorithm: aes-256-gcm
    owner: test-team
    aliases: [alias/${key}]
    policy: { gracePeriod: 1h, phaseTimeout: 30s }
    dependents:
      - name: ${key}-svc
        probe: { http: "http://127.0.0.1:${port}/probe" }`,
      )
      .join('')}`
    fixture = await createServerFixture('postgres', yaml)
    for (let i = 0; i < 2; i++) servers.push(await fixture.start({}))
    const admin = fixture.adminToken
    const answers = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const key = keys[i % keys.length]!
        // half repeat one idempotency key per key, half are plain triggers (refused while one runs)
        const body = i % 2 === 0 ? { idempotencyKey: `storm-${key}` } : {}
        const answer = await post(servers[i % 2]!.url, admin, `/v1/keys/${key}/rotations`, body)
        return { ...answer, idempotent: i % 2 === 0 }
      }),
    )
    const wrong = answers.filter((a) =>
      a.idempotent ? ![200, 201].includes(a.status) : ![200, 201, 409].includes(a.status),
    )
    expect(
      wrong.map((a) => `${a.status} ${a.body.code}`),
      'every repeated idempotency key attaches; nothing is a 500',
    ).toEqual([])
    for (const a of answers.filter((x) => x.status === 409)) expect(a.body.code).toBe('CONCURRENT_ROTATION')
    const verify = await call<{ valid: boolean }>(servers[0]!.url, admin, 'GET', '/v1/audit/verify')
    expect(verify.body.valid).toBe(true)
  }, 120_000)
})

async function post(url: string, token: string, path: string, body: unknown): Promise<Answer> {
  const response = await call<RunView & Problem>(url, token, 'POST', path, body)
  return { status: response.status, body: response.body, retryAfter: response.headers.get('retry-after') }
}

/** Waits for a run to end, asking any server that answers (a 503 is asked again). */
async function waitEnded(servers: ServerProcess[], token: string, id: string): Promise<RunView> {
  let turn = 0
  return until(
    `run ${id} to end`,
    async () => {
      const url = servers[turn++ % servers.length]!.url
      const { status, body } = await call<RunView>(url, token, 'GET', `/v1/runs/${id}`)
      return status === 200 && body.finishedAt !== null ? body : undefined
    },
    90_000,
    200,
  )
}
