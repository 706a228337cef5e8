import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Alert } from '../src/observability/alerts.js'
import type { Incident } from '../src/observability/incidents.js'
import { parseConfig } from '../src/config/load-config.js'
import { ticketTemplateProblems } from '../src/observability/tickets/template-check.js'
import { adfProblem } from './helpers/adf.js'
import { runCliProcess } from './helpers/cli.js'
import { startHarness, type Harness } from './helpers/harness.js'
import { DIALECTS } from './helpers/stores.js'

/** One request a ticketing receiver got, and what it answered. */
interface Seen {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: unknown
  status: number
}
type Answer = [status: number, body?: unknown]
/** Overrides the documented answers: return undefined to answer as the real API does. */
type Override = (method: string, path: string, nth: number) => Answer | undefined

const SECRETS = {
  GH_TOKEN: 'ghp-secret-4f9a',
  JIRA_TOKEN: 'jira-secret-7c2e',
  SN_PASSWORD: 'sn-secret-1b8d',
  TICKETS_TOKEN: 'tix-secret-5e3f',
}
const FAST = { pollMs: 20, requestTimeoutMs: 2000, backoffBaseMs: 20, backoffMaxMs: 100 }
const EXAMPLE_TEMPLATE = resolve('examples/ticketing/generic-ticket.json.hbs')
// quotes, a backslash and newlines: the template sink must keep its JSON body valid
const RCA =
  '# RCA\n\nA dependent ignored the "promoted" notice; C:\\fix applied.\n\nCorrective action: probe it.'
const JIRA_TRANSITIONS = {
  transitions: [
    { id: '11', name: 'In Progress', to: { statusCategory: { key: 'indeterminate' } } },
    { id: '31', name: 'Done', to: { statusCategory: { key: 'done' } } },
  ],
}

/** What each vendor's API answers, as documented (only the members keyrotor reads, and a few more). */
function documentedAnswer(method: string, path: string): Answer {
  const route = `${method} ${path}`
  if (route === 'POST /gh/repos/acme/ops/issues')
    return [201, { id: 9001, number: 42, html_url: 'https://github.com/acme/ops/issues/42' }]
  if (route === 'POST /gh/repos/acme/ops/issues/42/comments') return [201, { id: 1 }]
  if (route === 'PATCH /gh/repos/acme/ops/issues/42') return [200, { number: 42, state: 'closed' }]
  if (route === 'POST /jira/rest/api/3/issue') return [201, { id: '10001', key: 'OPS-7', self: 'x' }]
  if (route === 'POST /jira/rest/api/3/issue/OPS-7/comment') return [201, { id: '2' }]
  if (route === 'GET /jira/rest/api/3/issue/OPS-7/transitions') return [200, JIRA_TRANSITIONS]
  if (route === 'POST /jira/rest/api/3/issue/OPS-7/transitions') return [204]
  if (route === 'POST /sn/api/now/table/incident')
    return [201, { result: { sys_id: 'a1b2c3d4', number: 'INC0010001' } }]
  if (route === 'PATCH /sn/api/now/table/incident/a1b2c3d4') return [200, { result: { sys_id: 'a1b2c3d4' } }]
  if (route === 'POST /generic/tickets') return [201, { ticket: { id: 'T-9' } }]
  if (route === 'PATCH /generic/tickets/T-9') return [200, { ok: true }]
  return [404, { message: `no route ${route}` }]
}

async function startReceiver() {
  const seen: Seen[] = []
  const counts = new Map<string, number>()
  let override: Override = () => undefined
  const server: Server = createServer((req, res) => {
    let text = ''
    req.on('data', (chunk: Buffer) => (text += chunk.toString()))
    req.on('end', () => {
      const method = req.method ?? ''
      const path = req.url ?? '/'
      const nth = (counts.get(`${method} ${path}`) ?? 0) + 1
      counts.set(`${method} ${path}`, nth)
      const [status, body] = override(method, path, nth) ?? documentedAnswer(method, path)
      seen.push({ method, path, headers: req.headers, body: text === '' ? null : JSON.parse(text), status })
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(body === undefined ? '' : JSON.stringify(body))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    base,
    seen,
    under: (prefix: string) => seen.filter((s) => s.path.startsWith(prefix)),
    override: (o: Override) => void (override = o),
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  }
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>

function ticketSinksYaml(base: string, only?: string): string {
  const sinks: Record<string, string> = {
    github: `{ type: github, url: "${base}/gh", repo: acme/ops, tokenEnv: GH_TOKEN }`,
    jira: `{ type: jira, url: "${base}/jira", project: OPS, issueType: Incident, user: ops@acme.example, tokenEnv: JIRA_TOKEN }`,
    servicenow: `{ type: servicenow, url: "${base}/sn", user: keyrotor, passwordEnv: SN_PASSWORD, assignmentGroup: Security }`,
    template: `{ type: template, url: "${base}/generic/tickets", updateUrl: "${base}/generic/tickets/{{ticket.id}}", updateMethod: PATCH, idField: ticket.id, templateFile: "${EXAMPLE_TEMPLATE}", secretEnv: TICKETS_TOKEN }`,
  }
  const chosen = only === undefined ? Object.values(sinks) : [sinks[only] ?? '']
  return `keys: []\nnotifications:\n  incidents:\n${chosen.map((s) => `    - ${s}\n`).join('')}`
}

/** The members of Jira request bodies the test reads. */
interface JiraBody {
  fields: { description: { content: unknown[] } } & Record<string, unknown>
  body: unknown
  transition: unknown
  update: { comment: { add: { body: unknown } }[] }
}

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`
const text = (value: unknown) => JSON.stringify(value)

/** Opens an incident for real (a manual halt), comments on it (its alert acknowledged), closes it. */
async function incidentLifecycle(h: Harness): Promise<Incident> {
  expect((await h.api('POST', '/v1/halt', { reason: 'drill: "stuck" promote' })).status).toBe(200)
  const [incident] = (await h.api<Incident[]>('GET', '/v1/incidents?state=open')).body
  const alert = (await h.api<Alert[]>('GET', '/v1/alerts')).body.find((a) => a.type === 'halt_engaged')
  expect((await h.api('POST', `/v1/alerts/${alert?.id}/ack`)).status).toBe(200)
  const closed = await h.api<Incident>('POST', `/v1/incidents/${incident?.id}/close`, { rca: RCA })
  expect(closed.status).toBe(200)
  return closed.body
}

async function outboxRows(h: Harness) {
  return h.keyrotor.store.db.selectFrom('notification_outbox').selectAll().orderBy('id').execute()
}

async function allDelivered(h: Harness, rows: number): Promise<void> {
  await vi.waitFor(
    async () => {
      const all = await outboxRows(h)
      // the last errors are in the comparison so that a failure says what went wrong
      expect(all.map((r) => [r.state, r.last_error])).toEqual(
        Array.from({ length: rows }, () => ['delivered', null]),
      )
    },
    { timeout: 10_000, interval: 25 },
  )
}

describe.each(DIALECTS)('incident tickets on %s', (dialect) => {
  let receiver: Receiver
  let h: Harness
  let incident: Incident

  beforeAll(async () => {
    receiver = await startReceiver()
    h = await startHarness(dialect, ticketSinksYaml(receiver.base), { secrets: SECRETS, notifications: FAST })
    incident = await incidentLifecycle(h)
    // four sinks × (opened, the acknowledgement as a comment, closed)
    await allDelivered(h, 12)
  })
  afterAll(async () => {
    await h?.stop()
    await receiver?.close()
  })

  it('opens a GitHub issue, comments on it, closes it and adds the RCA as the final comment', () => {
    const gh = receiver.under('/gh')
    expect(gh.map((s) => `${s.method} ${s.path}`)).toEqual([
      'POST /gh/repos/acme/ops/issues',
      'POST /gh/repos/acme/ops/issues/42/comments',
      'PATCH /gh/repos/acme/ops/issues/42',
      'POST /gh/repos/acme/ops/issues/42/comments',
    ])
    for (const s of gh) {
      expect(s.headers).toMatchObject({
        authorization: `Bearer ${SECRETS.GH_TOKEN}`,
        accept: 'application/vnd.github+json',
        'x-github-api-version': '2022-11-28',
        'user-agent': 'keyrotor',
      })
    }
    const [open, comment, close, rca] = gh.map((s) => s.body as Record<string, unknown>)
    expect(open).toMatchObject({
      title: `[keyrotor critical] ${incident.title}`,
      labels: ['keyrotor', 'incident'],
    })
    expect(open?.body).toContain(`Incident: ${incident.id}`)
    expect(comment?.body).toContain('Alert halt_engaged acknowledged')
    expect(close).toEqual({ state: 'closed', state_reason: 'completed' })
    expect(rca?.body).toContain(RCA)
  })

  it('creates a Jira issue with an ADF description, comments in ADF and transitions it to done with the RCA', () => {
    const jira = receiver.under('/jira')
    expect(jira.map((s) => `${s.method} ${s.path}`)).toEqual([
      'POST /jira/rest/api/3/issue',
      'POST /jira/rest/api/3/issue/OPS-7/comment',
      'GET /jira/rest/api/3/issue/OPS-7/transitions',
      'POST /jira/rest/api/3/issue/OPS-7/transitions',
    ])
    expect(jira.every((s) => s.headers.authorization === basic('ops@acme.example', SECRETS.JIRA_TOKEN))).toBe(
      true,
    )
    const [create, comment, , transition] = jira.map((s) => s.body as JiraBody)
    expect(create?.fields).toMatchObject({
      project: { key: 'OPS' },
      issuetype: { name: 'Incident' },
      summary: `[keyrotor critical] ${incident.title}`,
      labels: ['keyrotor'],
      description: { version: 1, type: 'doc' },
    })
    expect(create?.fields.description.content[0]).toEqual({
      type: 'paragraph',
      content: [{ type: 'text', text: 'drill: "stuck" promote' }],
    })
    expect(comment?.body).toMatchObject({ version: 1, type: 'doc' })
    expect(text(comment?.body)).toContain('Alert halt_engaged acknowledged')
    // every rich text is a document Atlassian's ADF schema accepts (no empty text nodes, …)
    for (const doc of [create?.fields.description, comment?.body, transition?.update.comment[0]?.add.body])
      expect(adfProblem(doc)).toBeNull()
    expect(transition?.transition).toEqual({ id: '31' })
    expect(text(transition?.update.comment[0]?.add.body)).toContain('Corrective action: probe it.')
  })

  it('opens a ServiceNow incident, adds work notes and resolves it with close code and notes', () => {
    const sn = receiver.under('/sn')
    expect(sn.map((s) => `${s.method} ${s.path}`)).toEqual([
      'POST /sn/api/now/table/incident',
      'PATCH /sn/api/now/table/incident/a1b2c3d4',
      'PATCH /sn/api/now/table/incident/a1b2c3d4',
    ])
    expect(sn.every((s) => s.headers.authorization === basic('keyrotor', SECRETS.SN_PASSWORD))).toBe(true)
    const [create, note, resolve] = sn.map((s) => s.body as Record<string, string>)
    expect(create).toMatchObject({
      short_description: `[keyrotor critical] ${incident.title}`,
      impact: '1',
      urgency: '1',
      correlation_id: incident.id,
      assignment_group: 'Security',
    })
    expect(create?.description).toContain(incident.summary)
    expect(note?.work_notes).toContain('Alert halt_engaged acknowledged')
    expect(resolve).toMatchObject({ state: '6', close_code: 'Solution provided' })
    expect(resolve?.close_notes).toContain(RCA)
  })

  it('sends the example template’s JSON for every event to the generic API, following the ticket id', () => {
    const generic = receiver.under('/generic')
    expect(generic.map((s) => `${s.method} ${s.path}`)).toEqual([
      'POST /generic/tickets',
      'PATCH /generic/tickets/T-9',
      'PATCH /generic/tickets/T-9',
    ])
    expect(generic.every((s) => s.headers.authorization === `Bearer ${SECRETS.TICKETS_TOKEN}`)).toBe(true)
    const [open, comment, close] = generic.map((s) => s.body)
    expect(open).toEqual({
      source: 'keyrotor',
      event: 'opened',
      externalId: incident.id,
      title: `[critical] ${incident.title}`,
      description: 'drill: "stuck" promote',
      priority: 'critical',
      labels: ['keyrotor', 'escalate:security-lead', 'escalate:platform-lead'],
      links: { key: null, run: null, correlationId: incident.correlationId },
    })
    expect(comment).toMatchObject({ event: 'commented', ticket: 'T-9' })
    expect(close).toEqual({
      source: 'keyrotor',
      event: 'closed',
      externalId: incident.id,
      ticket: 'T-9',
      status: 'resolved',
      resolvedBy: 'admin',
      resolution: RCA,
    })
  })

  it('remembers one ticket per incident and sink, and stores no credential', async () => {
    const tickets = await h.keyrotor.store.db.selectFrom('incident_tickets').selectAll().execute()
    expect(tickets.map((t) => [t.incident_id, t.sink_type, t.external_id]).sort()).toEqual([
      [incident.id, 'github', '42'],
      [incident.id, 'jira', 'OPS-7'],
      [incident.id, 'servicenow', 'a1b2c3d4'],
      [incident.id, 'template', 'T-9'],
    ])
    const stored = JSON.stringify([tickets, await outboxRows(h)])
    for (const secret of Object.values(SECRETS)) expect(stored).not.toContain(secret)
  })
})

describe('incident ticket failures', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function setup(only: string, override: Override, yaml?: string) {
    const receiver = await startReceiver()
    receiver.override(override)
    cleanups.push(() => receiver.close())
    const h = await startHarness('sqlite', yaml ?? ticketSinksYaml(receiver.base, only), {
      secrets: SECRETS,
      notifications: FAST,
    })
    cleanups.push(() => h.stop())
    return { h, receiver }
  }

  async function failedRow(h: Harness) {
    return vi.waitFor(
      async () => {
        const row = (await outboxRows(h)).find((r) => r.state === 'failed')
        expect(row).toBeDefined()
        return row!
      },
      { timeout: 10_000, interval: 25 },
    )
  }

  it('marks a delivery the ticketing API refuses with a 4xx failed with its answer, without retrying it', async () => {
    const { h, receiver } = await setup('github', (method, path) =>
      method === 'POST' && path.endsWith('/issues')
        ? [422, { message: 'Validation Failed', errors: [{ field: 'labels', code: 'invalid' }] }]
        : undefined,
    )
    expect((await h.api('POST', '/v1/halt', { reason: 'drill' })).status).toBe(200)
    const row = await failedRow(h)
    expect(Number(row.attempts)).toBe(1)
    expect(row.last_error).toBe(
      'open issue: HTTP 422: {"message":"Validation Failed","errors":[{"field":"labels","code":"invalid"}]}',
    )
    expect(receiver.under('/gh')).toHaveLength(1)
    const metrics = await (await fetch(`${h.url}/metrics`)).text()
    expect(metrics).toContain(
      'keyrotor_notifications_total{channel="incidents",sink="github",outcome="failed"} 1',
    )
    expect(await h.keyrotor.store.db.selectFrom('incident_tickets').selectAll().execute()).toEqual([])
  })

  it('retries 5xx with backoff and never opens a second ticket, even when a later step is retried', async () => {
    const { h, receiver } = await setup('github', (method, path, nth) => {
      if (method === 'POST' && path === '/gh/repos/acme/ops/issues' && nth <= 2)
        return [502, { message: 'bad gateway' }]
      // the close's final RCA comment fails once after the PATCH went through
      if (method === 'POST' && path.endsWith('/42/comments') && nth === 2) return [503]
      return undefined
    })
    await incidentLifecycle(h)
    await allDelivered(h, 3)
    expect(receiver.under('/gh').map((s) => `${s.status} ${s.method} ${s.path}`)).toEqual([
      '502 POST /gh/repos/acme/ops/issues',
      '502 POST /gh/repos/acme/ops/issues',
      '201 POST /gh/repos/acme/ops/issues',
      '201 POST /gh/repos/acme/ops/issues/42/comments',
      '200 PATCH /gh/repos/acme/ops/issues/42',
      '503 POST /gh/repos/acme/ops/issues/42/comments',
      '200 PATCH /gh/repos/acme/ops/issues/42',
      '201 POST /gh/repos/acme/ops/issues/42/comments',
    ])
    expect((await outboxRows(h)).map((r) => [r.event, Number(r.attempts)])).toEqual([
      ['opened', 3],
      ['commented', 1],
      ['closed', 2],
    ])
    expect(await h.keyrotor.store.db.selectFrom('incident_tickets').selectAll().execute()).toHaveLength(1)
  })

  it('finds, when retrying a ServiceNow opening whose answer was lost, the incident it opened instead of a second one', async () => {
    let opened = false
    const { h, receiver } = await setup('servicenow', (method, path) => {
      // a proxy that times out after ServiceNow created the record: the answer never reaches keyrotor
      if (method === 'POST' && path === '/sn/api/now/table/incident') {
        opened = true
        return [504, { error: 'gateway timeout' }]
      }
      if (method === 'GET' && path.startsWith('/sn/api/now/table/incident?'))
        return [200, { result: opened ? [{ sys_id: 'a1b2c3d4', number: 'INC0010001' }] : [] }]
      return undefined
    })
    const incident = await incidentLifecycle(h)
    await allDelivered(h, 3)
    const sn = receiver.under('/sn')
    expect(sn.map((s) => `${s.status} ${s.method} ${s.path.split('?')[0]}`)).toEqual([
      '504 POST /sn/api/now/table/incident',
      '200 GET /sn/api/now/table/incident',
      '200 PATCH /sn/api/now/table/incident/a1b2c3d4',
      '200 PATCH /sn/api/now/table/incident/a1b2c3d4',
    ])
    const query = new URL(sn[1]?.path ?? '', 'http://x').searchParams
    expect(Object.fromEntries(query)).toEqual({
      sysparm_query: `correlation_id=${incident.id}`,
      sysparm_fields: 'sys_id,number',
      sysparm_limit: '1',
    })
  })

  it('fails, without sending or retrying, a delivery whose template does not render, naming file, line and column', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyrotor-tpl-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'ticket.json.hbs')
    writeFileSync(file, '{\n  "title": "{{incident.titel}}"\n}\n')
    const receiver = await startReceiver()
    cleanups.push(() => receiver.close())
    const yaml = `keys: []\nnotifications:\n  incidents:\n    - { type: template, url: "${receiver.base}/generic/tickets", templateFile: "${file}" }\n`
    const h = await startHarness('sqlite', yaml, { secrets: SECRETS, notifications: FAST })
    cleanups.push(() => h.stop())
    expect((await h.api('POST', '/v1/halt', { reason: 'drill' })).status).toBe(200)
    const row = await failedRow(h)
    expect(Number(row.attempts)).toBe(1)
    expect(row.last_error).toBe(`template: ${file}:2:13: unknown variable incident.titel`)
    expect(receiver.seen).toEqual([])
  })

  it('refuses in config validate, with exit 2 naming the path, a template that does not parse', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyrotor-tpl-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    const template = join(dir, 'ticket.json.hbs')
    writeFileSync(template, '{\n  {{#if opened}}"title": "{{incident.title}}"\n}\n')
    const config = join(dir, 'keyrotor.yaml')
    writeFileSync(
      config,
      `notifications:\n  incidents:\n    - { type: template, url: "https://tickets.example/api", templateFile: "${template}" }\n`,
    )
    const bad = await runCliProcess(['config', 'validate', config])
    expect(bad.code).toBe(2)
    expect(bad.stdout).toContain(
      `${config}: notifications.incidents[0].templateFile: ${template}:2:3: {{#if}} is never closed`,
    )
    writeFileSync(template, '{"title": "{{incident.title}}", "event": "{{event}}"}')
    const good = await runCliProcess(['config', 'validate', config])
    expect(good).toMatchObject({ code: 0, stdout: `${config}: valid (0 keys)\n` })
  })

  it('finds, when a config is validated, a template that renders no JSON or names an unknown variable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyrotor-tpl-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    const [notJson, unknown] = [join(dir, 'a.hbs'), join(dir, 'b.hbs')]
    // unquoted: fine for a title without quotes, never for every incident
    writeFileSync(notJson, '{"title": "{{incident.title}}", "summary": {{incident.summary}}}')
    writeFileSync(
      unknown,
      '{"title": "{{incident.title}}"{{#if closed}}, "rca": "{{incident.cause}}"{{/if}}}',
    )
    const config = parseConfig(
      `notifications:\n  incidents:\n` +
        `    - { type: webhook, url: "https://hooks.example/h" }\n` +
        `    - { type: template, url: "https://t.example/a", templateFile: "${notJson}" }\n` +
        `    - { type: template, url: "https://t.example/b", templateFile: "${unknown}" }\n` +
        `    - { type: template, url: "https://t.example/c", templateFile: "${EXAMPLE_TEMPLATE}" }\n`,
      'keyrotor.yaml',
    )
    const problems = await ticketTemplateProblems(config)
    expect(problems.map((p) => p.path)).toEqual([
      ['notifications', 'incidents', 1, 'templateFile'],
      ['notifications', 'incidents', 2, 'templateFile'],
    ])
    expect(problems[0]?.message).toMatch(new RegExp(`^${notJson}: renders invalid JSON for event opened: `))
    expect(problems[1]?.message).toBe(`${unknown}:1:55: unknown variable incident.cause`)
  })
})
