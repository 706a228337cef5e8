import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import type { Kysely } from 'kysely'
import type { Keyrotor, StartOptions } from '../../src/main.js'
import type { KeyView, RunView } from '../../src/engine/views.js'
import type { KeyProvider, ProviderKeyRef } from '../../src/providers/key-provider.js'
import type { DialectName } from '../../src/store/dialect.js'
import type { Database } from '../../src/store/tables.js'
import { startHarness, type Harness } from '../helpers/harness.js'
import type { ConformanceSubject, SubjectFactory } from './subject.js'

/** The instance name the engine-level cases put the key on (unless it is the built-in local). */
const INSTANCE = 'under-test'
const LEASE_MS = 3_000

/**
 * A real keyrotor (engine, worker, HTTP API, store) with one key on the provider under test, and
 * an in-process power cut: at an armed crash point its worker stops at once (every later point
 * throws, so nothing of the dead instance moves a run on) and a new instance starts on the store.
 */
export interface EngineUnderTest {
  subject: ConformanceSubject
  keyId: string
  alias: string
  ref: ProviderKeyRef
  db: Kysely<Database>
  struck: string[]
  provider(): KeyProvider
  api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
  ): Promise<{ status: number; body: T }>
  arm(point: string): void
  /** Waits for the armed point to strike, then starts a new instance on the same store. */
  restartAfterCrash(): Promise<void>
  waitForRun(kind: string): Promise<RunView>
  keyView(): Promise<KeyView>
  dispose(): Promise<void>
}

export async function startEngineUnderTest(
  dialect: DialectName,
  makeSubject: SubjectFactory,
  policy: string,
): Promise<EngineUnderTest> {
  const keyId = 'conformance-key'
  const alias = 'alias/conformance'
  // the server's store exists only once it starts; the subject's db is read lazily through this
  const started: { harness?: Harness } = {}
  const lazyDb = new Proxy({} as Kysely<Database>, {
    get: (_target, property) => Reflect.get(requireHarness().keyrotor.store.db, property),
  })
  const requireHarness = () => {
    if (started.harness === undefined) throw new Error('the server has not started')
    return started.harness
  }
  const subject = await makeSubject({ db: lazyDb })
  const algorithm = subject.algorithms.includes('aes-256-gcm') ? 'aes-256-gcm' : subject.algorithms[0]
  const instance = subject.instanceYaml === null ? 'local' : INSTANCE
  const yaml = [
    ...(subject.instanceYaml === null ? [] : ['providers:', subject.instanceYaml(INSTANCE)]),
    'keys:',
    `  - { id: ${keyId}, provider: ${instance}, algorithm: ${algorithm}, owner: conformance, aliases: [${alias}],`,
    `      policy: ${policy} }`,
    '',
  ].join('\n')
  const providerInstances = subject.inject === true ? { [INSTANCE]: subject.provider } : undefined
  // on PostgreSQL a restart does not expire the dead instance's leases (several servers may share
  // the store): a short lease lets the new instance take the run over soon
  const h = await startHarness(dialect, yaml, { providerInstances, leaseMs: LEASE_MS })
  started.harness = h
  const restartOptions = (): StartOptions => ({
    ...h.storeOptions,
    configPath: join(h.dataDir, 'keyrotor.yaml'),
    port: Number(new URL(h.url).port),
    logLevel: 'silent',
    pollMs: 20,
    revokeIntervalMs: 100,
    leaseMs: LEASE_MS,
    providerInstances,
  })

  let armed: string | undefined
  let dying: Promise<void> | undefined
  const struck: string[] = []
  const install = (keyrotor: Keyrotor) => {
    keyrotor.engine.crash = (point) => {
      if (dying !== undefined) throw new Error(`crashed before ${point}`)
      if (point !== armed) return
      armed = undefined
      struck.push(point)
      keyrotor.revokes.stop()
      dying = keyrotor.worker.stop()
      throw new Error(`crashed at ${point}`)
    }
  }
  install(h.keyrotor)

  return {
    subject,
    keyId,
    alias,
    ref: { keyId, algorithm: algorithm as ProviderKeyRef['algorithm'] },
    get db() {
      return h.keyrotor.store.db
    },
    struck,
    provider: () => h.keyrotor.engine.providers.get(instance),
    api: (method, path, body, token) => h.api(method, path, body, token),
    arm(point) {
      armed = point
    },
    async restartAfterCrash() {
      for (let i = 0; dying === undefined; i++) {
        if (i > 1500) throw new Error(`the crash point ${armed} was never reached`)
        await delay(20)
      }
      await dying
      const restarted = await h.restart(restartOptions())
      dying = undefined
      install(restarted)
    },
    async waitForRun(kind) {
      for (let i = 0; ; i++) {
        const runs = (await h.api<RunView[]>('GET', `/v1/runs?key=${keyId}`)).body
        const run = runs.find((r) => r.kind === kind)
        if (run !== undefined && ['succeeded', 'failed', 'halted', 'cancelled'].includes(run.state))
          return run
        if (i > 1500) throw new Error(`no terminal ${kind} run: ${JSON.stringify(runs)}`)
        await delay(20)
      }
    },
    keyView: async () => (await h.api<KeyView>('GET', `/v1/keys/${keyId}`)).body,
    async dispose() {
      await h.stop()
      await subject.close?.()
    },
  }
}
