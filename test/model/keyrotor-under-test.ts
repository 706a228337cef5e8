import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { runInit, startKeyrotor, type Keyrotor, type StartOptions } from '../../src/main.js'
import { call } from '../helpers/http.js'
import { ControllableDependents } from './controllable-dependents.js'

/** The keys of the model, each with its dependents (the verify-only one never signs). */
export const MODEL_KEYS = [
  {
    id: 'k1',
    revoke: 'disable',
    dependents: [
      { name: 'signer', verifyOnly: false },
      { name: 'verifier', verifyOnly: true },
    ],
  },
  { id: 'k2', revoke: 'destroy', dependents: [{ name: 'encrypter', verifyOnly: false }] },
] as const

export const KEY_IDS: readonly string[] = MODEL_KEYS.map((k) => k.id)
export const DEPENDENTS = MODEL_KEYS.flatMap((k) =>
  k.dependents.map((d) => ({ key: k.id, name: d.name, verifyOnly: d.verifyOnly })),
)

/** Short enough that a failing phase costs little; long enough for a healthy one on a slow CI box. */
const PHASE_TIMEOUT = '300ms'
/** The in-memory stand-in for the HTTP client's request timeout (5 s in production). */
const REQUEST_TIMEOUT_MS = 150
const QUIESCENCE_TIMEOUT_MS = 20_000

/** The users of the model: the bootstrap admin requests, a security and another admin approve. */
export interface Tokens {
  admin: string
  security: string
  secondAdmin: string
}

/**
 * A data dir made once per test file: initialized, the config's keys enrolled (v1 each) and the
 * tokens minted. Each fast-check run starts from a copy, so it costs a copy, not an init.
 */
export interface Template {
  dir: string
  tokens: Tokens
  dispose(): void
}

function configYaml(): string {
  const lines = ['keys:']
  for (const key of MODEL_KEYS) {
    lines.push(
      `  - id: ${key.id}`,
      '    provider: local',
      '    algorithm: aes-256-gcm',
      '    owner: model',
      `    aliases: [alias/${key.id}]`,
      // no grace period: the revoke scheduler starts a revoke right after each promotion
      `    policy: { gracePeriod: 0s, phaseTimeout: ${PHASE_TIMEOUT}, revoke: ${key.revoke} }`,
      '    dependents:',
    )
    for (const d of key.dependents) {
      // the URLs are never called: the in-memory client answers instead
      lines.push(
        `      - name: ${d.name}`,
        `        probe: { http: "http://${d.name}.${key.id}.model.invalid/keyrotor/probe" }`,
        `        notify: { http: "http://${d.name}.${key.id}.model.invalid/keyrotor/notify" }`,
      )
    }
  }
  return `${lines.join('\n')}\n`
}

function startOptions(dataDir: string, dependents: ControllableDependents): StartOptions {
  return {
    dataDir,
    configPath: join(dataDir, 'keyrotor.yaml'),
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    dependentClient: dependents.client,
    leaseMs: 5_000,
    pollMs: 10,
    revokeIntervalMs: 20,
    concurrency: 4,
  }
}

export async function createTemplate(): Promise<Template> {
  const dir = mkdtempSync(join(tmpdir(), 'keyrotor-model-template-'))
  writeFileSync(join(dir, 'keyrotor.yaml'), configYaml())
  const { adminToken } = await runInit({ dataDir: dir })
  const dependents = new ControllableDependents(DEPENDENTS, REQUEST_TIMEOUT_MS)
  const keyrotor = await startKeyrotor(startOptions(dir, dependents))
  try {
    const mint = async (user: string, role: string) => {
      const res = await call<{ token: string }>(keyrotor.url, adminToken, 'POST', '/v1/tokens', {
        user,
        role,
      })
      if (res.status !== 201 && res.status !== 200) throw new Error(`minting a token: ${JSON.stringify(res)}`)
      return res.body.token
    }
    const tokens = {
      admin: adminToken,
      security: await mint('sam', 'security'),
      secondAdmin: await mint('bob', 'admin'),
    }
    return { dir, tokens, dispose: () => rmSync(dir, { recursive: true, force: true }) }
  } finally {
    await keyrotor.close()
  }
}

/**
 * The real keyrotor (engine, worker, revoke scheduler, HTTP API, SQLite store, local provider) on
 * its own data dir, with only the remote dependents replaced. `crash` stops the process as a
 * power cut would, at a named crash point of the engine or wherever it is, and starts a new one
 * on the same data dir, as an operator's restart would.
 */
export class KeyrotorUnderTest {
  private instance: Keyrotor
  private dying: Promise<void> | undefined
  /** The crash point armed, until the engine reaches it. */
  private armed: string | undefined
  /** The crash points that struck, in order. */
  readonly struck: string[] = []
  restarts = 0

  private constructor(
    readonly dataDir: string,
    readonly dependents: ControllableDependents,
    readonly tokens: Tokens,
    instance: Keyrotor,
  ) {
    this.instance = instance
  }

  static async start(template: Template): Promise<KeyrotorUnderTest> {
    const dataDir = mkdtempSync(join(tmpdir(), 'keyrotor-model-'))
    cpSync(template.dir, dataDir, { recursive: true })
    const dependents = new ControllableDependents(DEPENDENTS, REQUEST_TIMEOUT_MS)
    const instance = await startKeyrotor(startOptions(dataDir, dependents)).catch((error: unknown) => {
      rmSync(dataDir, { recursive: true, force: true })
      throw error
    })
    const system = new KeyrotorUnderTest(dataDir, dependents, template.tokens, instance)
    system.installCrashHook()
    return system
  }

  get keyrotor(): Keyrotor {
    return this.instance
  }

  get db() {
    return this.instance.store.db
  }

  api<T>(method: string, path: string, body?: unknown, token = this.tokens.admin) {
    return call<T>(this.instance.url, token, method, path, body)
  }

  /**
   * The engine's fault-test hook (EngineDeps.crash) is called at every numbered crash point. Once
   * this instance is dying, every point throws, so its runs stop where they are: together with the
   * aborted phases, nothing of the dead instance moves a run on after the crash.
   */
  private installCrashHook(): void {
    const instance = this.instance
    instance.engine.crash = (point) => {
      if (this.instance !== instance) throw new Error(`crashed instance reached ${point}`)
      if (this.dying !== undefined) throw new Error(`crashed before ${point}`)
      if (this.armed !== point) return
      this.armed = undefined
      this.struck.push(point)
      this.die()
      throw new Error(`crashed at ${point}`)
    }
  }

  /** The abrupt part of a crash: no new claims or revokes, every phase in flight aborted. */
  private die(): void {
    this.instance.revokes.stop()
    // worker.stop() aborts every phase in flight at once; it resolves when they have unwound
    this.dying = this.instance.worker.stop()
  }

  /** The process dies the next time the engine reaches `point` (on this or a later instance). */
  arm(point: string): void {
    this.armed = point
  }

  /** The process dies now, wherever its runs are, and is restarted. */
  async crashNow(): Promise<void> {
    if (this.dying === undefined) this.die()
    await this.restartIfCrashed()
  }

  /**
   * An operator's restart after a crash: the dead instance's leftovers are closed (which releases
   * the data-dir lock) and a new instance starts on the same data dir, expiring the dead leases.
   */
  async restartIfCrashed(): Promise<boolean> {
    if (this.dying === undefined) return false
    await this.dying
    await this.instance.close()
    this.dying = undefined
    this.instance = await startKeyrotor(startOptions(this.dataDir, this.dependents))
    this.installCrashHook()
    this.restarts++
    return true
  }

  /**
   * At rest: no phase in flight, and nothing the worker or the revoke scheduler would pick up —
   * every run ended or awaits an approval, or the halt blocks the ones left (only forward
   * correction passes it), and every due revoke has been started once.
   */
  async isQuiescent(): Promise<boolean> {
    if (this.instance.worker.inFlightCount() > 0) return false
    const { db } = this
    const halt = await db.selectFrom('halt').select('engaged').where('id', '=', 1).executeTakeFirstOrThrow()
    const halted = Number(halt.engaged) === 1
    // a run awaiting approval waits for a person, not for the engine
    const live = await db
      .selectFrom('runs')
      .select(['id', 'kind'])
      .where('state', 'in', ['queued', 'running'])
      .execute()
    if (halted) return live.every((r) => r.kind !== 'forward-correct')
    if (live.length > 0) return false
    const due = await db
      .selectFrom('key_versions')
      .innerJoin('keys', 'keys.id', 'key_versions.key_id')
      .select(['key_versions.key_id', 'key_versions.version'])
      .where('key_versions.state', '=', 'retiring')
      .where('key_versions.revoke_started_at', 'is', null)
      .where('key_versions.revoke_due_at', 'is not', null)
      .where('key_versions.revoke_due_at', '<=', new Date().toISOString())
      .where('keys.frozen_at', 'is', null)
      .execute()
    for (const v of due) {
      const started = await db
        .selectFrom('runs')
        .select('id')
        .where('idempotency_key', '=', `revoke:${v.key_id}:v${v.version}`)
        .executeTakeFirst()
      if (started === undefined) return false
    }
    return true
  }

  async waitForQuiescence(): Promise<void> {
    await this.waitFor(() => this.isQuiescent(), 'quiescence')
  }

  /** Polls `done` every 10 ms; past the bound the engine is stuck, which is a finding too. */
  private async waitFor(done: () => Promise<boolean>, what: string): Promise<void> {
    const until = Date.now() + QUIESCENCE_TIMEOUT_MS
    // a crash point armed earlier may strike while we wait: the operator restarts the process
    while ((await this.restartIfCrashed()) || !(await done())) {
      if (Date.now() > until) {
        const runs = await this.db.selectFrom('runs').selectAll().execute()
        throw new Error(`no ${what} within ${QUIESCENCE_TIMEOUT_MS} ms: ${JSON.stringify(runs)}`)
      }
      await delay(10)
    }
  }

  async dispose(): Promise<void> {
    if (this.dying === undefined) this.die()
    await this.dying
    await this.instance.close()
    rmSync(this.dataDir, { recursive: true, force: true })
  }
}
