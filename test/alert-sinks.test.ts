import { createHmac } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { RunView } from '../src/engine/views.js'
import { KeyrotorError } from '../src/errors.js'
import { startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { DIALECTS } from './helpers/stores.js'

/** One request a receiver got, with the status it answered (0: it never answered). */
interface Received {
  path: string
  headers: IncomingHttpHeaders
  body: string
  status: number
}
type Behaviour = (path: string, nth: number) => number | 'hang'

const SECRETS = {
  ALERT_HOOK_SECRET: 'whsec-alerts-9f3k',
  TICKET_HOOK_SECRET: 'whsec-tickets-2m7q',
  PD_ROUTING_KEY: 'pd-routing-5x8z',
}
const FAST = { pollMs: 20, requestTimeoutMs: 400, backoffBaseMs: 20, backoffMaxMs: 200 }

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

/** A real HTTP receiver for alert and incident hooks; `behave` decides each answer. */
async function startReceiver() {
  const received: Received[] = []
  const counts = new Map<string, number>()
  let behave: Behaviour = () => 200
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      const path = req.url ?? '/'
      const nth = (counts.get(path) ?? 0) + 1
      counts.set(path, nth)
      const answer = behave(path, nth)
      received.push({ path, headers: req.headers, body, status: answer === 'hang' ? 0 : answer })
      if (answer !== 'hang') res.writeHead(answer).end()
    })
  })
  const port = await listen(server)
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    received,
    delivered: (path: string) => received.filter((r) => r.path === path && r.status >= 200 && r.status < 300),
    setBehaviour: (b: Behaviour) => void (behave = b),
    close: () =>
      new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  }
}

type DependentMode = 'normal' | 'drop-notices' | 'ignore-promote' | 'revert-after-confirm'

/**
 * A real dependent over HTTP: it loads staged versions and switches on promotion, or misbehaves
 * as `mode` says, which is how each alert type is caused for real.
 */
async function startDependent(key: string, mode: DependentMode) {
  const state = { accepts: [1], active: 1, previous: 1, probesSincePromote: -1 }
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      if (req.url?.endsWith('/probe')) {
        let active = state.active
        // confirm sees the new version once; validate's probe then finds the old one again
        if (
          mode === 'revert-after-confirm' &&
          state.probesSincePromote >= 0 &&
          ++state.probesSincePromote > 1
        )
          active = state.previous
        return void res.writeHead(200).end(JSON.stringify({ key, accepts: state.accepts, active }))
      }
      if (mode === 'drop-notices') return void res.writeHead(503).end()
      const notice = JSON.parse(body) as { event: string; version: number }
      if (notice.event === 'key.version.staged')
        state.accepts = [...new Set([...state.accepts, notice.version])]
      if (notice.event === 'key.version.promoted' && mode !== 'ignore-promote') {
        state.previous = state.active
        state.active = notice.version
        state.probesSincePromote = 0
      }
      res.writeHead(200).end()
    })
  })
  const port = await listen(server)
  const yaml = (critical = true) => `
      - name: ${key}-svc
        critical: ${critical}
        probe: { http: "http://127.0.0.1:${port}/probe" }
        notify: { http: "http://127.0.0.1:${port}/notify" }`
  return {
    yaml,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  }
}

function keyYaml(id: string, dependents: string): string {
  return `
  - id: ${id}
    provider: local
    algorithm: aes-256-gcm
    owner: test-team
    aliases: [alias/${id}]
    policy: { gracePeriod: 1h, phaseTimeout: 1s }
    dependents:${dependents === '' ? ' []' : dependents}`
}

function notificationsYaml(receiver: Awaited<ReturnType<typeof startReceiver>>): string {
  return `
notifications:
  alerts:
    - { type: webhook, url: "${receiver.url('/hook')}", secretEnv: ALERT_HOOK_SECRET }
    - { type: slack, urlEnv: SLACK_WEBHOOK_URL }
    - { type: pagerduty, url: "${receiver.url('/pd')}", secretEnv: PD_ROUTING_KEY }
  incidents:
    - { type: webhook, url: "${receiver.url('/incidents')}", secretEnv: TICKET_HOOK_SECRET }
`
}

/** The signature checked with node:crypto alone, as a receiver in another language would. */
function signatureIsValid(r: Received, secret: string): boolean {
  const timestamp = String(r.headers['x-keyrotor-timestamp'])
  const expected = createHmac('sha256', secret).update(`${timestamp}.${r.body}`).digest('hex')
  return r.headers['x-keyrotor-signature'] === `v1=${expected}`
}

const bodies = <T>(rs: Received[]) => rs.map((r) => JSON.parse(r.body) as T)

describe.each(DIALECTS)('alert and incident sinks on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function setup(keys: string) {
    const receiver = await startReceiver()
    cleanups.push(() => receiver.close())
    const h = await startHarness(dialect, `keys:${keys}${notificationsYaml(receiver)}`, {
      // a Slack incoming-webhook URL is a credential: it comes from the environment, never the config
      secrets: { ...SECRETS, SLACK_WEBHOOK_URL: receiver.url('/slack/T000/B000/XXXXSECRETPATH') },
      notifications: FAST,
    })
    cleanups.push(() => h.stop())
    return { h, receiver }
  }

  async function dependent(key: string, mode: DependentMode) {
    const d = await startDependent(key, mode)
    cleanups.push(() => d.close())
    return d
  }

  async function rotate(h: Harness, key: string): Promise<RunView> {
    const created = await h.api<RunView>('POST', `/v1/keys/${key}/rotations`, {})
    expect(created.status).toBe(201)
    return waitForRun<RunView>(h, created.body.id)
  }

  it('sends every alert type caused for real to the signed webhook, Slack and PagerDuty, and incidents to the incident hook', async () => {
    const [slow, ledger, partial] = [
      await dependent('slow-dek', 'drop-notices'),
      await dependent('ledger-dek', 'revert-after-confirm'),
      await dependent('partial-dek', 'ignore-promote'),
    ]
    const unreachable = `
      - name: gone-svc
        probe: { http: "http://127.0.0.1:9/probe" }`
    const { h, receiver } = await setup(
      keyYaml('gone-dek', unreachable) +
        keyYaml('slow-dek', slow.yaml()) +
        keyYaml('ledger-dek', ledger.yaml()) +
        keyYaml('drift-dek', '') +
        keyYaml('partial-dek', partial.yaml()),
    )

    expect((await rotate(h, 'gone-dek')).failure?.class).toBe('preflight_rejected') // rotation_failed
    const first = await h.api<RunView>('POST', '/v1/keys/slow-dek/rotations', {})
    expect((await h.api('POST', '/v1/keys/slow-dek/rotations', {})).status).toBe(409) // concurrent_rotation
    expect((await waitForRun<RunView>(h, first.body.id)).failure).toMatchObject({
      class: 'timeout',
      phase: 'distribute',
    })
    const validation = await rotate(h, 'ledger-dek') // validation_failed on a critical key: an incident
    expect(validation).toMatchObject({ state: 'failed', failure: { phase: 'validate' } })
    const local = h.keyrotor.engine.providers.get('local')
    const drift = { keyId: 'drift-dek', algorithm: 'aes-256-gcm' as const }
    await local.setVersionState(drift, 1, 'disabled') // unexpected_transition …
    expect((await h.api<{ passed: boolean }>('POST', '/v1/keys/drift-dek/verify')).body.passed).toBe(false)
    await local.setVersionState(drift, 1, 'enabled') // … resolved by a passing verify
    expect((await h.api<{ passed: boolean }>('POST', '/v1/keys/drift-dek/verify')).body.passed).toBe(true)
    expect((await rotate(h, 'partial-dek')).state).toBe('halted') // partial_execution, halt_engaged, incident

    const types = ['rotation_failed', 'rotation_timeout', 'concurrent_rotation', 'validation_failed']
    const all = [...types, 'unexpected_transition', 'partial_execution', 'halt_engaged']
    await vi.waitFor(
      () => {
        const seen = bodies<{ type: string }>(receiver.delivered('/hook')).map((a) => a.type)
        expect(new Set(seen)).toEqual(new Set(all))
        expect(receiver.delivered('/pd')).toHaveLength(receiver.delivered('/hook').length)
        // each sink drains on its own: wait for Slack's copies too before reading them
        expect(receiver.delivered('/slack/T000/B000/XXXXSECRETPATH')).toHaveLength(
          receiver.delivered('/hook').length,
        )
        expect(receiver.delivered('/incidents')).toHaveLength(2)
      },
      { timeout: 15_000, interval: 25 },
    )

    // the webhook: the alert JSON of CONTRACT.md with its change, signed like notices
    const hooks = receiver.delivered('/hook')
    expect(hooks.every((r) => signatureIsValid(r, SECRETS.ALERT_HOOK_SECRET))).toBe(true)
    const timeout = bodies<Record<string, unknown>>(hooks).find((a) => a.type === 'rotation_timeout')
    expect(Object.keys(timeout ?? {})).toEqual([
      'id',
      'type',
      'severity',
      'key',
      'runId',
      'correlationId',
      'message',
      'count',
      'state',
      'event',
    ])
    expect(timeout).toMatchObject({
      key: 'slow-dek',
      runId: first.body.id,
      correlationId: first.body.correlationId,
      event: 'raised',
    })
    const events = bodies<{ type: string; event: string }>(hooks).filter(
      (a) => a.type === 'unexpected_transition',
    )
    expect(events.map((a) => a.event)).toEqual(['raised', 'resolved'])

    // Slack: text and blocks naming severity, key, run, correlation id and what to do next
    const slack = bodies<{ text: string; blocks: unknown[] }>(
      receiver.delivered('/slack/T000/B000/XXXXSECRETPATH'),
    )
    const partialSlack = JSON.stringify(slack.find((m) => m.text.includes('partial_execution')))
    for (const part of ['CRITICAL', 'partial-dek', 'What to do next', 'forward-correct'])
      expect(partialSlack).toContain(part)

    // PagerDuty Events v2: routing key from secretEnv, dedup by (type, key, run), resolve on clear
    const pd = bodies<{
      routing_key: string
      event_action: string
      dedup_key: string
      payload: { source: string; severity: string; summary: string }
    }>(receiver.delivered('/pd'))
    expect(pd.every((e) => e.routing_key === SECRETS.PD_ROUTING_KEY && e.payload.source === 'keyrotor')).toBe(
      true,
    )
    expect(
      pd
        .filter((e) => e.dedup_key === JSON.stringify(['unexpected_transition', 'drift-dek', null]))
        .map((e) => e.event_action),
    ).toEqual(['trigger', 'resolve'])
    expect(pd.find((e) => e.payload.summary.includes('partial_execution'))?.payload.severity).toBe('critical')

    // incidents: the critical key's failed validation and the partial execution, signed
    const incidents = receiver.delivered('/incidents')
    expect(incidents.every((r) => signatureIsValid(r, SECRETS.TICKET_HOOK_SECRET))).toBe(true)
    expect(
      bodies<{ key: string; event: string; state: string }>(incidents)
        .map((i) => [i.key, i.event, i.state])
        .sort(),
    ).toEqual([
      ['ledger-dek', 'opened', 'open'],
      ['partial-dek', 'opened', 'open'],
    ])

    // the store holds payloads and sink ids: no secret, no Slack URL path
    const stored = JSON.stringify(
      await h.keyrotor.store.db.selectFrom('notification_outbox').selectAll().execute(),
    )
    for (const secret of [...Object.values(SECRETS), 'XXXXSECRETPATH']) expect(stored).not.toContain(secret)
  })

  it('opens and sends an incident when a run fails with a security-class error', async () => {
    const { h, receiver } = await setup(keyYaml('hsm-dek', ''))
    const local = h.keyrotor.engine.providers.get('local')
    // the provider refusing keyrotor's credential mid-run, as an HSM or KMS with a revoked grant does
    local.createVersion = async () => {
      throw new KeyrotorError('FORBIDDEN', 'the provider refused the credential for create')
    }
    const run = await rotate(h, 'hsm-dek')
    expect(run.failure).toMatchObject({ class: 'security', phase: 'create' })
    await vi.waitFor(() => expect(receiver.delivered('/incidents')).toHaveLength(1), {
      timeout: 10_000,
      interval: 25,
    })
    const [incident] = bodies<{ key: string; runId: string; severity: string; event: string }>(
      receiver.delivered('/incidents'),
    )
    expect(incident).toMatchObject({ key: 'hsm-dek', runId: run.id, severity: 'critical', event: 'opened' })
  })

  it('delivers to a receiver that fails 3 times, with backoff, while the rotation that raised the alert succeeds', async () => {
    const svc = await dependent('payments-dek', 'normal')
    const { h, receiver } = await setup(keyYaml('payments-dek', svc.yaml()))
    receiver.setBehaviour((path, nth) => (path === '/hook' && nth <= 3 ? 500 : 200))
    const created = await h.api<RunView>('POST', '/v1/keys/payments-dek/rotations', {})
    expect((await h.api('POST', '/v1/keys/payments-dek/rotations', {})).status).toBe(409)
    expect((await waitForRun<RunView>(h, created.body.id)).state).toBe('succeeded')

    await vi.waitFor(() => expect(receiver.delivered('/hook')).toHaveLength(1), {
      timeout: 10_000,
      interval: 25,
    })
    expect(receiver.received.filter((r) => r.path === '/hook').map((r) => r.status)).toEqual([
      500, 500, 500, 200,
    ])
    await vi.waitFor(async () => {
      const row = await h.keyrotor.store.db
        .selectFrom('notification_outbox')
        .selectAll()
        .where('sink_type', '=', 'webhook')
        .executeTakeFirstOrThrow()
      expect(row).toMatchObject({ state: 'delivered', event: 'raised', last_error: null })
      expect(Number(row.attempts)).toBe(4)
    })
  })

  it('never holds up a rotation when a receiver hangs, and records the attempts with the last error', async () => {
    const svc = await dependent('payments-dek', 'normal')
    const { h, receiver } = await setup(keyYaml('payments-dek', svc.yaml()))
    receiver.setBehaviour(() => 'hang')
    const created = await h.api<RunView>('POST', '/v1/keys/payments-dek/rotations', {})
    expect((await h.api('POST', '/v1/keys/payments-dek/rotations', {})).status).toBe(409)
    expect((await waitForRun<RunView>(h, created.body.id)).state).toBe('succeeded')

    await vi.waitFor(
      async () => {
        const rows = await h.keyrotor.store.db.selectFrom('notification_outbox').selectAll().execute()
        expect(rows).toHaveLength(3)
        for (const row of rows) {
          expect(['pending', 'failed']).toContain(row.state)
          expect(Number(row.attempts)).toBeGreaterThanOrEqual(1)
          expect(row.last_error).toBe(`no answer within ${FAST.requestTimeoutMs} ms`)
        }
      },
      { timeout: 10_000, interval: 25 },
    )
  })

  it('delivers after a restart what a failing receiver had not taken before it', async () => {
    const { h, receiver } = await setup(keyYaml('payments-dek', ''))
    receiver.setBehaviour(() => 503)
    expect((await h.api('POST', '/v1/halt', { reason: 'drill' })).status).toBe(200) // halt_engaged + incident
    const outbox = () => h.keyrotor.store.db.selectFrom('notification_outbox').selectAll().execute()
    await vi.waitFor(async () => expect((await outbox()).every((r) => Number(r.attempts) >= 1)).toBe(true), {
      timeout: 10_000,
      interval: 25,
    })
    await h.restart(
      {
        secretOf: (name) =>
          ({ ...SECRETS, SLACK_WEBHOOK_URL: receiver.url('/slack/T000/B000/XXXXSECRETPATH') })[name],
        notifications: FAST,
      },
      () => receiver.setBehaviour(() => 200),
    )
    await vi.waitFor(
      () => {
        expect(bodies<{ type: string }>(receiver.delivered('/hook')).map((a) => a.type)).toEqual([
          'halt_engaged',
        ])
        expect(receiver.delivered('/incidents')).toHaveLength(1)
      },
      { timeout: 10_000, interval: 25 },
    )
    expect(
      signatureIsValid(receiver.delivered('/incidents')[0] as Received, SECRETS.TICKET_HOOK_SECRET),
    ).toBe(true)
    await vi.waitFor(async () =>
      expect((await outbox()).map((r) => r.state)).toEqual([
        'delivered',
        'delivered',
        'delivered',
        'delivered',
      ]),
    )
  })
})
