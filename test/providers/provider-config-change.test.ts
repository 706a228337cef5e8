import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { KeyView } from '../../src/engine/views.js'
import type { ConfigProposalView } from '../../src/config-changes/config-changes.js'
import { createExecProvider } from '../../src/providers/exec/exec-provider.js'
import { startHarness, type Harness } from '../helpers/harness.js'
import { createFileHookBackend, type FileHookBackend } from './file-hook.js'

const LOCAL_KEY = '  - { id: billing-dek, provider: local, algorithm: aes-256-gcm, owner: billing }'
const HOOK_KEY =
  '  - { id: orders-mac, provider: hook, algorithm: hmac-sha256, owner: orders, aliases: [alias/orders-mac] }'

describe('a config change that adds a provider instance', () => {
  let backend: FileHookBackend
  let h: Harness
  let security: string
  beforeAll(async () => {
    backend = createFileHookBackend()
    h = await startHarness('sqlite', `keys:\n${LOCAL_KEY}\n`)
    security = (await h.api<{ token: string }>('POST', '/v1/tokens', { user: 'sam', role: 'security' })).body
      .token
  })
  afterAll(async () => {
    await h?.stop()
    backend?.dispose()
  })

  async function proposeAndApprove(yaml: string): Promise<string> {
    const proposed = await h.api<ConfigProposalView>('POST', '/v1/config/proposals', {
      yaml,
      summary: 'orders MAC key on the hook',
      rollbackPlan: 'propose the previous version again',
    })
    expect(proposed.status).toBe(201)
    await h.api('POST', `/v1/config/proposals/${proposed.body.id}/approve`, {}, security)
    return proposed.body.id
  }

  it('refuses to apply while a new instance does not answer, naming it, and enrolls nothing', async () => {
    const broken = '  hook: { type: exec, command: [/bin/sh, -c, "echo hsm offline >&2; exit 3", hook] }'
    const id = await proposeAndApprove(`providers:\n${broken}\nkeys:\n${LOCAL_KEY}\n${HOOK_KEY}\n`)
    const applied = await h.api<{ code: string; detail: string }>('POST', `/v1/config/proposals/${id}/apply`)
    expect(applied.body.code).toBe('INVALID_CONFIG')
    expect(applied.body.detail).toContain('providers.hook: /bin/sh -c echo hsm offline >&2; exit 3 hook:')
    expect(applied.body.detail).toContain('the hook exited 3: hsm offline')
    expect((await h.api('GET', '/v1/keys/orders-mac')).status).toBe(404)
  })

  it('enrolls a key on the new instance once it answers: v1 at the hook, its providerRef in the key view', async () => {
    const id = await proposeAndApprove(
      `providers:\n${backend.yaml('hook')}\nkeys:\n${LOCAL_KEY}\n${HOOK_KEY}\n`,
    )
    expect((await h.api('POST', `/v1/config/proposals/${id}/apply`)).status).toBe(200)
    const ref = { keyId: 'orders-mac', algorithm: 'hmac-sha256' as const }
    const hook = createExecProvider(backend.settings, { env: process.env })
    expect((await hook.listVersions(ref)).map((v) => [v.version, v.state])).toEqual([[1, 'enabled']])
    expect(await hook.getAlias(ref, 'alias/orders-mac')).toBe(1)
    const view = (await h.api<KeyView>('GET', '/v1/keys/orders-mac')).body
    expect(view).toMatchObject({
      provider: 'hook',
      versions: [{ version: 1, providerRef: 'file-hook:orders-mac.v1' }],
    })
  })
})
