import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditEvent } from '../src/audit/audit-log.js'
import type { AllVerification } from '../src/engine/verify/verify-service.js'
import type { RunView } from '../src/engine/views.js'
import { until } from './helpers/instances.js'
import { startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { keyYaml } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

const KEY = 'revive-dek'

/** Issue 9 item 12: `verify --all` self-tests material and holds the store to its audited history. */
describe.each(DIALECTS)('verify --all against the audit log on %s', (dialect) => {
  let h: Harness
  const verifyAll = async () => (await h.api<AllVerification>('POST', '/v1/verify')).body
  const checksOf = (report: AllVerification) =>
    Object.fromEntries((report.keys.find((k) => k.key === KEY)?.checks ?? []).map((c) => [c.name, c]))

  beforeAll(async () => {
    const config = `keys:${keyYaml({ id: KEY, algorithm: 'aes-256-gcm', dependents: [], policy: '{ gracePeriod: 1s, phaseTimeout: 5s }' })}`
    h = await startHarness(dialect, config)
    const started = await h.api<RunView>('POST', `/v1/keys/${KEY}/rotations`, { reason: 'scheduled' })
    expect((await waitForRun<RunView>(h, started.body.id)).state).toBe('succeeded')
    // the grace period is a second: the revoke run disables v1
    await until(
      `the revoke run of ${KEY}`,
      async () => {
        const runs = (await h.api<RunView[]>('GET', `/v1/runs?key=${KEY}`)).body
        return runs.some((r) => r.kind === 'revoke' && r.state === 'succeeded') ? true : undefined
      },
      30_000,
    )
  })
  afterAll(async () => {
    await h?.stop()
  })

  it('passes on an untouched store, each version as audited and each usable version self-tested', async () => {
    const changes = (await h.api<AuditEvent[]>('GET', '/v1/audit')).body
      .filter((e) => e.action === 'key.version.changed' && e.target === KEY)
      .map((e) => [e.details?.version, e.details?.from, e.details?.state])
    expect(changes).toEqual([
      [2, null, 'pending'],
      [1, 'active', 'retiring'],
      [2, 'pending', 'active'],
      [1, 'retiring', 'disabled'],
    ])
    const report = await verifyAll()
    expect(report.passed).toBe(true)
    expect(checksOf(report)['self-test']).toMatchObject({
      passed: true,
      detail: expect.stringContaining('1 usable'),
    })
    expect(checksOf(report)['audited-states']).toMatchObject({ passed: true })
  })

  it('catches a consistent edit of the store that revives a disabled version', async () => {
    const { db } = h.keyrotor.store
    // store and provider agree, so only the audit log can tell
    await db
      .updateTable('key_versions')
      .set({ state: 'retiring' })
      .where('key_id', '=', KEY)
      .where('version', '=', 1)
      .execute()
    await db
      .updateTable('local_keystore')
      .set({ state: 'enabled' })
      .where('key_id', '=', KEY)
      .where('version', '=', 1)
      .execute()
    const report = await verifyAll()
    expect(report.passed).toBe(false)
    expect(checksOf(report)['version-states']?.passed).toBe(true)
    expect(checksOf(report)['audited-states']).toMatchObject({
      passed: false,
      detail: 'v1 is retiring in the store, but the audit log last recorded disabled',
    })
    await db
      .updateTable('key_versions')
      .set({ state: 'disabled' })
      .where('key_id', '=', KEY)
      .where('version', '=', 1)
      .execute()
    await db
      .updateTable('local_keystore')
      .set({ state: 'disabled' })
      .where('key_id', '=', KEY)
      .where('version', '=', 1)
      .execute()
    expect((await verifyAll()).passed).toBe(true)
  })

  it('fails the self-test of a usable version whose material no longer works', async () => {
    const { db } = h.keyrotor.store
    const row = await db
      .selectFrom('local_keystore')
      .select('sealed_material')
      .where('key_id', '=', KEY)
      .where('version', '=', 2)
      .executeTakeFirstOrThrow()
    await db
      .updateTable('local_keystore')
      .set({ sealed_material: 'damaged' })
      .where('key_id', '=', KEY)
      .where('version', '=', 2)
      .execute()
    try {
      const report = await verifyAll()
      expect(report.passed).toBe(false)
      expect(checksOf(report)['self-test']).toMatchObject({
        passed: false,
        detail: expect.stringMatching(/^v2: /),
      })
    } finally {
      await db
        .updateTable('local_keystore')
        .set({ sealed_material: row.sealed_material })
        .where('key_id', '=', KEY)
        .where('version', '=', 2)
        .execute()
    }
  })
})
