import { afterEach, describe, expect, it } from 'vitest'
import type { RunView } from '../src/engine/views.js'
import { runCliProcess } from './helpers/cli.js'
import { approvedEmergency } from './helpers/flows.js'
import { startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { keyYaml } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

interface Problem {
  code: string
  detail: string
  nextAllowedAt?: string | null
}

const MINUTE = 60_000
const floorMinute = (ms: number) => new Date(Math.floor(ms / MINUTE) * MINUTE)
const iso = (date: Date) => date.toISOString().replace(/\.000Z$/, 'Z')
/** A cron expression (UTC) that fires at `date`'s minute every day, or every week on its weekday. */
const cronAt = (date: Date, weekly = false) =>
  `${date.getUTCMinutes()} ${date.getUTCHours()} * * ${weekly ? date.getUTCDay() : '*'}`

// windows relative to the moment the suite starts: one opened a minute ago for an hour, one
// that opens in a day and two minutes (weekly, so no earlier opening exists)
const now = Date.now()
const opensTomorrow = floorMinute(now + 86_400_000 + 2 * MINUTE)
const WINDOWS = `
windows:
  open-now: { cron: "${cronAt(new Date(now - MINUTE))}", duration: 1h, timezone: UTC }
  tomorrow: { cron: "${cronAt(opensTomorrow, true)}", duration: 1h, timezone: UTC }`
const hour = (offset: number) => new Date(now + offset * 3_600_000).toISOString()
const KEYS = `keys:${[
  keyYaml({ id: 'open-dek', algorithm: 'aes-256-gcm', dependents: [], policy: '{ window: open-now }' }),
  keyYaml({ id: 'closed-dek', algorithm: 'aes-256-gcm', dependents: [], policy: '{ window: tomorrow }' }),
  keyYaml({ id: 'audited-dek', algorithm: 'aes-256-gcm', dependents: [] }),
  keyYaml({ id: 'free-dek', algorithm: 'aes-256-gcm', dependents: [] }),
].join('')}`

describe.each(DIALECTS)('change windows and blackouts on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function start(blackouts: string): Promise<Harness> {
    const h = await startHarness(dialect, `${KEYS}${WINDOWS}\nblackouts:${blackouts}`)
    cleanups.push(() => h.stop())
    return h
  }
  const rotate = (h: Harness, key: string, token?: string) =>
    h.api<RunView & Problem>('POST', `/v1/keys/${key}/rotations`, { reason: 'test' }, token)

  it('refuses a rotation outside its window with 422 naming the next opening, and runs one inside', async () => {
    const h = await start(' []')
    const refused = await rotate(h, 'closed-dek')
    expect(refused.status).toBe(422)
    expect(refused.body.code).toBe('PREFLIGHT_REJECTED')
    expect(refused.body.detail).toContain(
      `key closed-dek may rotate only in window tomorrow (cron "${cronAt(opensTomorrow, true)}", 1h, UTC): next opening ${iso(opensTomorrow)}`,
    )
    expect(refused.body.nextAllowedAt).toBe(iso(opensTomorrow))
    expect((await h.api<RunView[]>('GET', '/v1/runs?key=closed-dek')).body).toEqual([])

    const inside = await rotate(h, 'open-dek')
    expect(inside.status).toBe(201)
    expect(await waitForRun<RunView>(h, inside.body.id)).toMatchObject({ state: 'succeeded', toVersion: 2 })
  })

  it('refuses a key inside its scoped blackout and still rotates another key', async () => {
    const h = await start(`
  - { from: "${hour(-1)}", to: "${hour(2)}", reason: "quarterly audit", keys: [audited-dek] }`)
    const refused = await rotate(h, 'audited-dek')
    expect(refused.status).toBe(422)
    expect(refused.body.detail).toContain(
      "key audited-dek is in blackout 'quarterly audit' (keys audited-dek)",
    )
    expect(refused.body.detail).toContain(`next allowed ${iso(new Date(hour(2)))}`)

    const other = await rotate(h, 'free-dek')
    expect(other.status).toBe(201)
    expect(await waitForRun<RunView>(h, other.body.id)).toMatchObject({ state: 'succeeded' })
  })

  it('refuses every key, even inside its window, during a global blackout', async () => {
    const h = await start(`
  - { from: "${hour(-1)}", to: "${hour(1)}", reason: "year-end freeze" }`)
    for (const key of ['free-dek', 'open-dek', 'audited-dek']) {
      const refused = await rotate(h, key)
      expect(refused.status).toBe(422)
      expect(refused.body.detail).toContain("blackout 'year-end freeze' (all keys)")
    }
  })

  it('lets an approved emergency rotate outside the window', async () => {
    const h = await start(' []')
    const person = async (user: string) =>
      (await h.api<{ token: string }>('POST', '/v1/tokens', { user, role: 'security' })).body.token
    const [sam, sue] = [await person('sam'), await person('sue')]
    const requested = await approvedEmergency(h.api, {
      key: 'closed-dek',
      reason: 'key leaked',
      requester: sam,
      approver: sue,
    })
    expect(await waitForRun<RunView>(h, requested.id)).toMatchObject({
      kind: 'emergency-rotate',
      state: 'succeeded',
    })
  })

  it('makes the CLI `rotate KEY` exit 3 outside the window, naming the next opening', async () => {
    const h = await start(' []')
    const result = await runCliProcess(['rotate', 'closed-dek'], {
      KEYROTOR_URL: h.url,
      KEYROTOR_TOKEN: h.adminToken,
    })
    expect(result.code).toBe(3)
    expect(`${result.stdout}${result.stderr}`).toContain(`next opening ${iso(opensTomorrow)}`)
  })
})
