import { afterEach, describe, expect, it } from 'vitest'
import { startHarness } from './helpers/harness.js'
import { DIALECTS } from './helpers/stores.js'

interface Problem {
  code: string
  detail: string
}

/** A window that opens at 03:00 UTC on the day after tomorrow: closed now, whatever the time. */
function closedWindowCron(now: Date): string {
  const later = new Date(now.getTime() + 2 * 86_400_000)
  return `0 3 ${later.getUTCDate()} ${later.getUTCMonth() + 1} *`
}

function configYaml(cron: string, extraKey = ''): string {
  return `changePolicy: { window: changes }
windows:
  changes: { cron: "${cron}", duration: 1h, timezone: UTC }
keys:
  - id: base-dek
    provider: local
    algorithm: aes-256-gcm
    owner: team
${extraKey}`
}

describe.each(DIALECTS)('configuration changes under a change policy on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it('refuses to apply an approved change outside the change window, naming the next opening', async () => {
    const cron = closedWindowCron(new Date())
    const h = await startHarness(dialect, configYaml(cron))
    cleanups.push(() => h.stop())
    const sam = (await h.api<{ token: string }>('POST', '/v1/tokens', { user: 'sam', role: 'security' })).body
      .token
    const v2 = configYaml(
      cron,
      '  - id: new-dek\n    provider: local\n    algorithm: hmac-sha256\n    owner: team\n',
    )
    const proposed = await h.api<{ id: string }>('POST', '/v1/config/proposals', {
      yaml: v2,
      summary: 'add new-dek',
      rollbackPlan: 'propose version 1 again',
    })
    expect(proposed.status).toBe(201)
    expect((await h.api('POST', `/v1/config/proposals/${proposed.body.id}/approve`, {}, sam)).status).toBe(
      200,
    )
    const refused = await h.api<Problem>('POST', `/v1/config/proposals/${proposed.body.id}/apply`)
    expect(refused.status).toBe(422)
    expect(refused.body.code).toBe('PREFLIGHT_REJECTED')
    expect(refused.body.detail).toMatch(/only in window changes .* next opening \d{4}-\d\d-\d\dT03:00:00/)
    const keys = (await h.api<{ id: string }[]>('GET', '/v1/keys')).body
    expect(keys.map((k) => k.id)).toEqual(['base-dek'])
  })

  it('refuses a change policy that names an undefined window, naming the path', async () => {
    const h = await startHarness(dialect, configYaml(closedWindowCron(new Date())))
    cleanups.push(() => h.stop())
    const bad = await h.api<Problem>('POST', '/v1/config/proposals', {
      yaml: 'changePolicy: { window: nowhere }\nkeys:\n  - id: base-dek\n    provider: local\n    algorithm: aes-256-gcm\n    owner: team\n',
      summary: 'typo',
      rollbackPlan: 'none needed',
    })
    expect(bad.status).toBe(400)
    expect(bad.body.detail).toContain('changePolicy.window')
  })
})
