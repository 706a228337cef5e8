import { afterEach, describe, expect, it } from 'vitest'
import type { KeyView, RunView } from '../src/engine/views.js'
import { startHarness, waitForRun } from './helpers/harness.js'
import { DIALECTS } from './helpers/stores.js'

interface Approval {
  id: string
  action: string
  runId: string
  requiredRoles: string[]
}

const CONFIG = `keys:
  - id: vault-dek
    provider: local
    algorithm: aes-256-gcm
    owner: vault-team
    aliases: [alias/vault]
    policy: { requireApproval: true }
`

describe.each(DIALECTS)('a key whose policy requires approval, on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it('holds every rotation until an admin or security person other than the requester approves it', async () => {
    const h = await startHarness(dialect, CONFIG)
    cleanups.push(() => h.stop())
    const person = async (user: string, role: string) =>
      (await h.api<{ token: string }>('POST', '/v1/tokens', { user, role })).body.token
    const olga = await person('olga', 'operator')
    const sam = await person('sam', 'security')

    const requested = await h.api<RunView>(
      'POST',
      '/v1/keys/vault-dek/rotations',
      { reason: 'quarterly' },
      olga,
    )
    expect(requested.status).toBe(201)
    expect(requested.body).toMatchObject({ kind: 'rotate', state: 'awaiting_approval' })
    const approvals = (await h.api<Approval[]>('GET', '/v1/approvals?state=pending')).body
    const approval = approvals.find((a) => a.runId === requested.body.id)
    expect(approval).toMatchObject({ action: 'rotate', requiredRoles: ['admin|security'] })

    // nothing moves while it waits, and the operator cannot approve their own request
    const waiting = (await h.api<KeyView>('GET', '/v1/keys/vault-dek')).body
    expect(waiting.versions.map((v) => v.state)).toEqual(['active'])
    expect((await h.api('POST', `/v1/approvals/${approval?.id}/approve`, {}, olga)).status).toBe(403)

    expect((await h.api('POST', `/v1/approvals/${approval?.id}/approve`, {}, sam)).status).toBe(200)
    const run = await waitForRun<RunView>(h, requested.body.id)
    expect(run).toMatchObject({ state: 'succeeded', fromVersion: 1, toVersion: 2 })
  })
})
