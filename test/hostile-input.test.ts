import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditEvent } from '../src/audit/audit-log.js'
import type { ChainReport } from '../src/audit/verify-chain.js'
import type { Problem } from '../src/http/problem.js'
import { pendingApprovalOf, requestEmergency } from './helpers/flows.js'
import { startHarness, type Harness } from './helpers/harness.js'
import { keyYaml } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

interface FieldProblem extends Problem {
  errors?: { in: string; path: string; message: string }[]
}

const CONFIG = `keys:${keyYaml({ id: 'input-dek', algorithm: 'aes-256-gcm', dependents: [] })}${keyYaml({
  id: 'four-eyes-dek',
  algorithm: 'aes-256-gcm',
  dependents: [],
})}`

/** Issue 9 items 7, 8, 9 and 12 (URL errors): what a hostile or careless client sends. */
describe.each(DIALECTS)('hostile input on %s', (dialect) => {
  let h: Harness
  const person = async (user: string, role: string) =>
    (await h.api<{ token: string }>('POST', '/v1/tokens', { user, role })).body.token
  const fieldsOf = (problem: FieldProblem) => (problem.errors ?? []).map((e) => e.path)
  const audited = async (action: string) =>
    (await h.api<AuditEvent[]>('GET', '/v1/audit')).body.filter((e) => e.action === action)
  const runsOf = async (key: string) => (await h.api<unknown[]>('GET', `/v1/runs?key=${key}`)).body

  beforeAll(async () => {
    h = await startHarness(dialect, CONFIG)
  })
  afterAll(async () => {
    await h?.stop()
  })

  it('refuses text that is not well-formed Unicode with 400 naming the field, and audit verify still passes', async () => {
    // JSON.stringify writes a lone surrogate as the escape `\udc00`, as the attacker's client did
    const halt = await h.api<FieldProblem>('POST', '/v1/halt', { reason: 'x \udc00 y' })
    expect([halt.status, halt.body.code, fieldsOf(halt.body)]).toEqual([400, 'BAD_REQUEST', ['reason']])
    expect((await h.api<{ engaged: boolean }>('GET', '/v1/halt')).body.engaged).toBe(false)
    const token = await h.api<FieldProblem>('POST', '/v1/tokens', { user: 'eve\ud800', role: 'viewer' })
    expect([token.status, fieldsOf(token.body)]).toEqual([400, ['user']])
    const rotation = await h.api<FieldProblem>('POST', '/v1/keys/input-dek/rotations', { reason: '\udfff' })
    expect([rotation.status, fieldsOf(rotation.body)]).toEqual([400, ['reason']])
    // well-formed text from every plane is taken and kept exactly
    const user = 'ünïcödé ✓ 𝄞 \ufffd 日本'
    expect((await h.api('POST', '/v1/tokens', { user, role: 'viewer' })).status).toBe(201)
    expect((await audited('tokens.create')).at(-1)?.details).toMatchObject({ user })
    const verify = await h.api<ChainReport>('GET', '/v1/audit/verify')
    expect(verify.body).toMatchObject({ valid: true })
  })

  it('refuses unknown body fields with 400 naming them, and creates nothing', async () => {
    const tokensBefore = (await h.api<unknown[]>('GET', '/v1/tokens')).body.length
    const typo = await h.api<FieldProblem>('POST', '/v1/tokens', {
      user: 'ops',
      role: 'admin',
      expires_in: '1h',
    })
    expect([typo.status, fieldsOf(typo.body)]).toEqual([400, ['expires_in']])
    expect(typo.body.detail).toContain('expires_in')
    expect((await h.api<unknown[]>('GET', '/v1/tokens')).body).toHaveLength(tokensBefore)

    for (let i = 0; i < 2; i++) {
      const snake = await h.api<FieldProblem>('POST', '/v1/keys/input-dek/rotations', {
        idempotency_key: 'job-42',
      })
      expect([snake.status, fieldsOf(snake.body)]).toEqual([400, ['idempotency_key']])
    }
    const misspelt = await h.api<FieldProblem>('POST', '/v1/keys/input-dek/rotations', {
      emergncy: true,
      reason: 'leak',
    })
    expect([misspelt.status, fieldsOf(misspelt.body)]).toEqual([400, ['emergncy']])
    expect(await runsOf('input-dek')).toEqual([])

    // a route that reads no body refuses one rather than ignoring it
    const cancel = await h.api<FieldProblem>('POST', '/v1/runs/no-such-run/cancel', { force: true })
    expect([cancel.status, fieldsOf(cancel.body)]).toEqual([400, ['force']])
  })

  it('refuses wrong types, out-of-range integers, short lifetimes and non-ISO times instead of coercing them', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/v1/keys/input-dek/rotations', { emergency: 'true', reason: 'x' }, 'emergency'],
      ['POST', '/v1/keys/input-dek/rotations', { attempt: '3' }, 'attempt'],
      ['POST', '/v1/keys/input-dek/rotations', { attempt: 1e12 }, 'attempt'],
      ['POST', '/v1/keys/input-dek/rotations', { reason: 42 }, 'reason'],
      ['POST', '/v1/tokens', { user: 'x', role: 'viewer', expiresIn: '1 hour' }, 'expiresIn'],
      ['POST', '/v1/tokens', { user: 'x', role: 'viewer', expiresAt: 'tomorrow' }, 'expiresAt'],
      ['POST', '/v1/tokens', { user: 'x', role: 'viewer', expiresAt: 1893456000 }, 'expiresAt'],
    ]
    for (const [method, path, body, field] of cases) {
      const res = await h.api<FieldProblem>(method, path, body)
      expect([path, res.status, fieldsOf(res.body)]).toEqual([path, 400, [field]])
    }
    const short = await h.api<FieldProblem>('POST', '/v1/tokens', {
      user: 'x',
      role: 'viewer',
      expiresIn: '30s',
    })
    expect([short.status, short.body.detail]).toEqual([400, 'expiresIn: "30s" is shorter than 1m'])
    const since = await h.api<FieldProblem>('GET', '/v1/audit?since=yesterday')
    expect([since.status, fieldsOf(since.body)]).toEqual([400, ['since']])
    expect((await h.api('GET', '/v1/audit?since=2026-01-01')).status).toBe(200)
    expect(await runsOf('input-dek')).toEqual([])
  })

  it('answers URL errors as problem+json only after authentication, and audits them', async () => {
    const anonymous = await fetch(`${h.url}/v1/runs/%zz`)
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('content-type')).toContain('application/problem+json')

    const bad = await fetch(`${h.url}/v1/runs/%zz`, { headers: { authorization: `Bearer ${h.adminToken}` } })
    const problem = (await bad.json()) as Problem
    expect([bad.status, bad.headers.get('content-type'), problem.code]).toEqual([
      400,
      'application/problem+json; charset=utf-8',
      'BAD_REQUEST',
    ])
    const long = await fetch(`${h.url}/v1/keys/${'k'.repeat(300)}`, {
      headers: { authorization: `Bearer ${h.adminToken}` },
    })
    const longProblem = (await long.json()) as Problem
    expect([long.status, longProblem.code]).toEqual([414, 'BAD_REQUEST'])

    // a token pasted into the URL is not recorded
    const pasted = await fetch(`${h.url}/v1/runs/%zz/${h.adminToken}`, {
      headers: { authorization: `Bearer ${h.adminToken}` },
    })
    expect(pasted.status).toBe(400)

    const records = await audited('request.malformed')
    expect(records.map((r) => r.correlationId)).toEqual([
      problem.correlationId,
      longProblem.correlationId,
      pasted.headers.get('x-correlation-id'),
    ])
    expect(records[0]).toMatchObject({ actor: 'admin', target: 'GET /v1/runs/%zz' })
    expect(records[2]?.target).toBe('GET /v1/runs/%zz/kr_…')
    expect(JSON.stringify(records)).not.toContain(h.adminToken)
  })

  it('compares four-eyes identities NFKC and case-folded, and counts only tokens older than the request', async () => {
    const requester = await person('security1', 'security')
    const twin = await person('Security1', 'security')
    const wideTwin = await person('ＳＥＣＵＲＩＴＹ１', 'security')
    const sue = await person('sue', 'security')
    const requested = await requestEmergency(h.api, 'four-eyes-dek', 'suspected leak', requester)
    expect(requested.status).toBe(201)
    const approval = await pendingApprovalOf(h.api, requested.body.id)
    const approve = (token: string) =>
      h.api<Problem>('POST', `/v1/approvals/${approval.id}/approve`, {}, token)

    for (const token of [twin, wideTwin]) {
      const self = await approve(token)
      expect([self.status, self.body.code]).toEqual([403, 'SELF_APPROVAL'])
    }
    // a token made after the request (by an admin the requester asked, say) does not count
    await new Promise((resolve) => setTimeout(resolve, 5))
    const late = await approve(await person('sam', 'security'))
    expect([late.status, late.body.code]).toEqual([403, 'FORBIDDEN'])
    expect(late.body.detail).toContain('created after')
    const refusals = (await audited('approval.refused')).filter((r) => r.target === approval.id)
    expect(refusals.map((r) => [r.actor, r.details?.code])).toEqual([
      ['Security1', 'SELF_APPROVAL'],
      ['ＳＥＣＵＲＩＴＹ１', 'SELF_APPROVAL'],
      ['sam', 'FORBIDDEN'],
    ])
    expect((await approve(sue)).status).toBe(200)
  })
})
