import { randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join, resolve } from 'node:path'
import { startDataKeyService } from '../demo/sample-services.js'
import { freePort } from '../demo/free-port.js'
import type { RunView } from '../engine/views.js'
import type { Keyrotor, StartOptions } from '../app/start-options.js'
import { CATALOG, type ScenarioName } from './catalog.js'
import { DRILL_DEPENDENT, DRILL_KEY, type SandboxContext } from './faults/fault.js'
import { FAULTS } from './faults/index.js'
import { drillConfigYaml } from './sandbox-config.js'
import { SANDBOX_FILES, TRAINEE_ROLES, TRAINEE_USERS, readState, writeState } from './sandbox-state.js'

export interface SandboxOptions {
  scenario: ScenarioName
  dir: string
  port: number
  /** Resolves when the sandbox should stop; default SIGINT or SIGTERM. */
  until?: Promise<void> | undefined
}

type Start = (options: StartOptions) => Promise<Keyrotor>
type Init = (options: { dataDir: string }) => Promise<{ adminToken: string }>

/**
 * A drill's sandbox, run by `drill start` as a detached process: a real keyrotor server on a
 * throwaway SQLite data dir in the drill dir, a simulated dependent built on the dependent SDK,
 * and the scenario's fault. It writes sandbox.json once the trainee can start, and serves until
 * SIGTERM (`drill stop`).
 */
export async function runSandboxWith(start: Start, init: Init, options: SandboxOptions): Promise<void> {
  const dir = resolve(options.dir)
  const dataDir = join(dir, SANDBOX_FILES.data)
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const cleanups: (() => Promise<void>)[] = []
  try {
    const startedAt = new Date()
    const fault = FAULTS[options.scenario]()
    const { adminToken } = await init({ dataDir })
    const dependentPort = await freePort()
    const secret = randomBytes(24).toString('base64url')
    const configYaml = drillConfigYaml({ dependentPort, ...fault.config?.(startedAt) })
    const configPath = join(dataDir, 'keyrotor.yaml')
    writeFileSync(configPath, configYaml)
    const keyrotor = await start({
      dataDir,
      configPath,
      port: options.port,
      logFile: join(dataDir, 'keyrotor.log'),
      secretOf: (name) => (name === 'PAYMENTS_API_SECRET' ? secret : undefined),
      // short cycles: a drill is practice, nobody should wait for timers
      pollMs: 100,
      revokeIntervalMs: 500,
      schedulerIntervalMs: 500,
      schedulerRetryMs: 2_000,
    })
    cleanups.push(() => keyrotor.close())
    const tokens = { admin: adminToken, scheduler: '' }
    const api: SandboxContext['api'] = async (method, path, body, as = 'admin') => {
      const response = await fetch(`${keyrotor.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${tokens[as]}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
      const text = await response.text()
      return { status: response.status, body: (text === '' ? null : JSON.parse(text)) as never }
    }
    const createToken = async (user: string, role: string, key?: string) =>
      (await api<{ token: string }>('POST', '/v1/tokens', { user, role, key })).body.token
    tokens.scheduler = await createToken('control-m', 'operator')
    const trainee = Object.fromEntries(
      await Promise.all(
        TRAINEE_ROLES.map(async (r) => [
          r,
          await createToken(TRAINEE_USERS[r], r === 'admin2' ? 'admin' : r),
        ]),
      ),
    ) as Record<(typeof TRAINEE_ROLES)[number], string>
    const service = await startDataKeyService({
      key: DRILL_KEY,
      name: DRILL_DEPENDENT,
      keyrotorUrl: keyrotor.url,
      token: await createToken(DRILL_DEPENDENT, 'consumer', DRILL_KEY),
      secret,
      port: dependentPort,
      host: '127.0.0.1',
    })
    cleanups.push(() => service.close())
    const ctx: SandboxContext = {
      dir,
      keyrotor,
      service,
      api,
      configYaml,
      dependentPort,
      waitForRun: async (id) => {
        for (;;) {
          const { body } = await api<RunView>('GET', `/v1/runs/${id}?wait=30s`)
          if (!['queued', 'running', 'awaiting_approval'].includes(body.state)) return body
        }
      },
    }
    const facts = await fault.inject(ctx)

    const controlSecret = randomBytes(24).toString('base64url')
    const control = await listenControl(controlSecret, async () => {
      const said =
        fault.fix === undefined ? 'nothing to fix outside keyrotor in this drill' : await fault.fix(ctx)
      const state = readState(dir)
      if (state !== undefined && fault.fix !== undefined) {
        writeState(dir, { ...state, fixedAt: state.fixedAt ?? new Date().toISOString() })
      }
      return said
    })
    cleanups.push(() => new Promise((done) => control.server.close(() => done())))
    writeState(dir, {
      scenario: options.scenario,
      pid: process.pid,
      url: keyrotor.url,
      tokens: trainee,
      refereeToken: adminToken,
      controlUrl: control.url,
      controlSecret,
      runbooks: CATALOG[options.scenario].runbooks,
      startedAt: startedAt.toISOString(),
      faultAt: new Date().toISOString(),
      fixedAt: null,
      facts,
    })
    process.stdout.write(`drill ${options.scenario} ready at ${keyrotor.url}\n`)
    await (options.until ?? untilSignal())
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
  }
}

/** `drill fix`'s door into the sandbox: POST /fix with the secret from sandbox.json. */
async function listenControl(
  secret: string,
  fix: () => Promise<string>,
): Promise<{ server: Server; url: string }> {
  const expected = Buffer.from(`Bearer ${secret}`)
  const server = createServer((request, response) => {
    const given = Buffer.from(request.headers.authorization ?? '')
    const allowed = given.length === expected.length && timingSafeEqual(given, expected)
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    }
    if (!allowed) return send(401, { error: 'unauthorised' })
    if (request.method !== 'POST' || request.url !== '/fix') return send(404, { error: 'not found' })
    fix().then(
      (message) => send(200, { fixed: true, message }),
      (error: unknown) => send(500, { error: error instanceof Error ? error.message : String(error) }),
    )
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return { server, url: `http://127.0.0.1:${port}` }
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
}
