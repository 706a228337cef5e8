import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import pg from 'pg'
import { freePort } from '../../src/demo/free-port.js'
import { startDataKeyService, type DataKeyService } from '../../src/demo/sample-services.js'
import { runInit, startKeyrotor, type Keyrotor, type StartOptions } from '../../src/main.js'
import type { DialectName } from '../../src/store/dialect.js'
import { spawnCli, waitForLine } from './cli.js'
import { responseCheckerFor, type ResponseChecker } from './documented-responses.js'
import { request, type Api } from './http.js'
import { TEST_DATABASE_URL } from './stores.js'

/**
 * The one way the suites start keyrotor: a fresh store (a SQLite data dir or a PostgreSQL schema)
 * made by `init`, with the given keyrotor.yaml, and servers on it either in this process
 * (`startHarness`, whose API answers are checked against /openapi.json) or as real processes
 * (`createServerFixture`, for fault suites that SIGKILL and SIGSTOP them). Both call the API
 * through http.ts.
 */
interface TestServerStore {
  dataDir: string
  schema: string | undefined
  adminToken: string
  configPath: string
  dispose(): Promise<void>
}

async function prepareStore(
  dialect: DialectName,
  configYaml: string,
  init: (dataDir: string, schema: string | undefined) => Promise<{ adminToken: string }>,
): Promise<TestServerStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyrotor-test-'))
  const schema = dialect === 'postgres' ? `kr_test_${randomBytes(6).toString('hex')}` : undefined
  if (schema !== undefined) await pgQuery(`CREATE SCHEMA ${schema}`)
  const { adminToken } = await init(dataDir, schema)
  const configPath = join(dataDir, 'keyrotor.yaml')
  writeFileSync(configPath, configYaml)
  return {
    dataDir,
    schema,
    adminToken,
    configPath,
    async dispose() {
      if (schema !== undefined) await pgQuery(`DROP SCHEMA ${schema} CASCADE`)
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

async function pgQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}

// ---- in-process ------------------------------------------------------------------------------

/** What both forms take: the secrets the config's `secretEnv` names resolve to. */
export interface ServerOptions {
  secrets?: Record<string, string>
}

/** In-process, StartOptions may be given too (a fake provider, a dependent client, timings). */
export type HarnessOptions = Partial<StartOptions> & ServerOptions

export interface Harness {
  keyrotor: Keyrotor
  url: string
  adminToken: string
  dataDir: string
  /** Options that start another server on the same store. */
  storeOptions: { dataDir: string; databaseUrl?: string; schema?: string }
  /**
   * Calls the API with a token (the admin's by default); returns status and parsed body. A response
   * that /openapi.json does not document (status, media type or body) throws: the test fails.
   */
  api: Api
  /**
   * Closes the server and starts another on the same store with exactly these options (besides
   * the store's, port 0 and silent logs), as an operator's restart would; `whileDown` runs between.
   */
  restart(options?: Partial<StartOptions>, whileDown?: () => void | Promise<void>): Promise<Keyrotor>
  stop(): Promise<void>
}

/**
 * A real keyrotor server in this process on an ephemeral port, on a fresh SQLite data dir or a
 * fresh PostgreSQL schema, started with the given keyrotor.yaml text.
 */
export async function startHarness(
  dialect: DialectName,
  configYaml: string,
  options: HarnessOptions = {},
): Promise<Harness> {
  const optionsOf = (dataDir: string, schema: string | undefined) =>
    schema === undefined ? { dataDir } : { dataDir, databaseUrl: TEST_DATABASE_URL, schema }
  const store = await prepareStore(dialect, configYaml, (dataDir, schema) =>
    runInit(optionsOf(dataDir, schema)),
  )
  const storeOptions = optionsOf(store.dataDir, store.schema)
  const secrets = options.secrets ?? {}
  const keyrotor = await startKeyrotor({
    ...storeOptions,
    configPath: store.configPath,
    port: 0,
    logLevel: 'silent',
    pollMs: 20,
    revokeIntervalMs: 100,
    secretOf: (name) => secrets[name],
    ...options,
  })
  const url = keyrotor.url
  // built now, not on the first call: a test that times a token's expiry must not wait for it
  const checker: ResponseChecker = await responseCheckerFor(url)
  const harness: Harness = {
    keyrotor,
    url,
    adminToken: store.adminToken,
    dataDir: store.dataDir,
    storeOptions,
    api: (method, path, body, token = store.adminToken) =>
      // a restart may move the server to another port
      request(harness.keyrotor.url, { method, path, body, token, checker }),
    async restart(restartOptions = {}, whileDown) {
      await harness.keyrotor.close()
      await whileDown?.()
      harness.keyrotor = await startKeyrotor({
        ...storeOptions,
        port: 0,
        logLevel: 'silent',
        ...restartOptions,
      })
      return harness.keyrotor
    },
    async stop() {
      // a test may have restarted the server on the same store: close whichever runs now
      await harness.keyrotor.close()
      await store.dispose()
    },
  }
  return harness
}

/** Polls until the run is terminal; returns it. */
export async function waitForRun<T extends { state: string }>(
  h: Pick<Harness, 'api'>,
  runId: string,
  timeoutMs = 30_000,
): Promise<T> {
  const { body } = await h.api<T>('GET', `/v1/runs/${runId}?wait=${Math.ceil(timeoutMs / 1000)}s`)
  return body
}

/**
 * A sample data-key service (built on the dependent SDK) for `key`, on the port planned for it in
 * the server's keyrotor.yaml, with a consumer token bound to the key.
 */
export async function startDataKeyDependent(
  h: Harness,
  dep: { name: string; port: number; secret: string },
  key: string,
): Promise<DataKeyService> {
  const { token } = (
    await h.api<{ token: string }>('POST', '/v1/tokens', { user: dep.name, role: 'consumer', key })
  ).body
  return startDataKeyService({
    key,
    keyrotorUrl: h.url,
    token,
    secret: dep.secret,
    port: dep.port,
    name: dep.name,
  })
}

// ---- as processes ----------------------------------------------------------------------------

/**
 * A store (SQLite dir or PostgreSQL schema) and keyrotor servers run on it as real processes,
 * so that fault tests can SIGKILL and SIGSTOP them.
 */
export interface ServerFixture {
  dataDir: string
  /** postgres://…?options=-c search_path=… for PostgreSQL; undefined for SQLite. */
  databaseUrl: string | undefined
  adminToken: string
  configPath: string
  start(options: { port?: number; env?: Record<string, string>; leaseTtl?: string }): Promise<ServerProcess>
  dispose(): Promise<void>
}

export interface ServerProcess {
  child: ChildProcess
  url: string
  port: number
}

export async function createServerFixture(
  dialect: DialectName,
  configYaml: string,
  options: ServerOptions = {},
): Promise<ServerFixture> {
  const secrets = options.secrets ?? {}
  // a server process takes the schema from the URL: every connection starts in it
  const urlOf = (schema: string | undefined) =>
    schema === undefined
      ? undefined
      : `${TEST_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`
  const store = await prepareStore(dialect, configYaml, (dataDir, schema) =>
    runInit({ dataDir, databaseUrl: urlOf(schema) }),
  )
  const { dataDir, configPath } = store
  const databaseUrl = urlOf(store.schema)
  const children: ChildProcess[] = []
  return {
    dataDir,
    databaseUrl,
    adminToken: store.adminToken,
    configPath,
    async start({ port, env = {}, leaseTtl = '2s' }) {
      const listen = port ?? (await freePort())
      const args = [
        'server',
        '--data-dir',
        dataDir,
        '--config',
        configPath,
        '--port',
        String(listen),
        '--lease-ttl',
        leaseTtl,
      ]
      if (databaseUrl !== undefined) args.push('--database', databaseUrl)
      const child = spawnCli(args, { ...secrets, KEYROTOR_LOG_LEVEL: 'info', ...env })
      children.push(child)
      child.stderr?.resume()
      await waitForLine(child, /keyrotor started/)
      child.stdout?.resume()
      return { child, url: `http://127.0.0.1:${listen}`, port: listen }
    },
    async dispose() {
      for (const child of children)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await store.dispose()
    },
  }
}
