import { describe, it } from 'vitest'
import type { KeyView, RunView } from '../src/engine/views.js'
import { startDataKeyDependent, startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { keyYaml, planDependent, secretsOf } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

interface RunEvent {
  type: string
  phase: string | null
  message: string
  at: string
}

const MINUTE = 60_000

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 90_000) {
  const end = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const eventsOf = async (h: Harness, runId: string) =>
  (await h.api<{ events: RunEvent[] }>('GET', `/v1/runs/${runId}/events`)).body.events

// The window opens every minute ("* * * * *") and stays open a few seconds past the trigger, so
// the run sees it close while it distributes and the next opening is at most a minute away. Both
// dialects run at once: they wait for the same minute.
describe('a rotation whose change window closes before promote', () => {
  it.concurrent.for(DIALECTS)(
    'waits on %s with the alias on the old version, then promotes at the next opening',
    { timeout: 150_000 },
    async (dialect, { expect }) => {
      // leave room before the minute ends, so this minute's opening and the next stay apart
      await until(() => new Date().getUTCSeconds() < 40, 'the first 40 seconds of a minute')
      const openedAt = Math.floor(Date.now() / MINUTE) * MINUTE
      const closesAt = Date.now() + 8_000
      const seconds = Math.ceil((closesAt - openedAt) / 1000)
      const dep = await planDependent('payments-api')
      const config = `keys:${keyYaml({
        id: 'payments-dek',
        algorithm: 'aes-256-gcm',
        dependents: [dep],
        policy: '{ gracePeriod: 1h, phaseTimeout: 90s, window: minutely }',
      })}
windows:
  minutely: { cron: "* * * * *", duration: ${seconds}s, timezone: UTC }`
      const h = await startHarness(dialect, config, { secrets: secretsOf([dep]) })
      try {
        const service = await startDataKeyDependent(h, dep, 'payments-dek')
        try {
          // the service refuses to stage the new version until the window has closed
          const handle = service.dependent.handleNotice.bind(service.dependent)
          service.dependent.handleNotice = async (raw, headers) => {
            const staged = (JSON.parse(raw) as { event: string }).event === 'key.version.staged'
            return staged && Date.now() < openedAt + seconds * 1000 + 500
              ? { status: 503 }
              : handle(raw, headers)
          }
          const created = await h.api<RunView>('POST', '/v1/keys/payments-dek/rotations', {})
          expect(created.status).toBe(201)
          const runId = created.body.id

          await until(
            async () => (await eventsOf(h, runId)).some((e) => e.type === 'run.waiting'),
            'run.waiting',
          )
          const waiting = (await eventsOf(h, runId)).find((e) => e.type === 'run.waiting')
          const nextOpening = new Date(openedAt + MINUTE).toISOString().replace('.000Z', 'Z')
          expect(waiting).toMatchObject({ phase: 'promote' })
          expect(waiting?.message).toContain(`window minutely closed at`)
          expect(waiting?.message).toContain(`waits for the next opening at ${nextOpening}`)
          const paused = (await h.api<RunView>('GET', `/v1/runs/${runId}`)).body
          expect(paused).toMatchObject({ state: 'running', phase: 'distribute', toVersion: 2 })
          const key = (await h.api<KeyView>('GET', '/v1/keys/payments-dek')).body
          expect(key.aliases).toEqual([{ name: 'alias/payments-dek', version: 1 }])
          expect(key.versions.map((v) => [v.version, v.state])).toEqual([
            [1, 'active'],
            [2, 'pending'],
          ])

          const run = await waitForRun<RunView>(h, runId, 90_000)
          expect(run).toMatchObject({ state: 'succeeded', fromVersion: 1, toVersion: 2 })
          const promoted = (await eventsOf(h, runId)).find(
            (e) => e.type === 'phase.started' && e.phase === 'promote',
          )
          expect(Date.parse(promoted?.at ?? '')).toBeGreaterThanOrEqual(openedAt + MINUTE)
          const after = (await h.api<KeyView>('GET', '/v1/keys/payments-dek')).body
          expect(after.aliases).toEqual([{ name: 'alias/payments-dek', version: 2 }])
        } finally {
          await service.close()
        }
      } finally {
        await h.stop()
      }
    },
  )
})
