import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { startDataKeyService, type DataKeyService } from '../../src/demo/sample-services.js'
import { runInit, startKeyrotor, type Keyrotor, type StartOptions } from '../../src/main.js'
import type { DialectName } from '../../src/store/dialect.js'
import { responseCheckerFor, type ResponseChecker } from './documented-responses.js'
import { TEST_DATABASE_URL } from './stores.js'

export interface Harness {
  keyrotor: Keyrotor
  url: string
  adminToken: string
  dataDir: string
  /** Options that start another server process on the same store. */
  storeOptions: { dataDir: string; databaseUrl?: string; schema?: string }
  /**
   * Calls the API with a token (the admin's by default); returns status and parsed body. A response
   * that /openapi.json does not document (status, media type or body) throws: the test fails.
   */
  api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
  ): Promise<{ status: number; body: T }>
  stop(): Promise<void>
}

/**
 * A real keyrotor server on an ephemeral port, on a fresh SQLite data dir or a fresh PostgreSQL
 * schema, started with the given keyrotor.yaml text.
 */
export async function startHarness(
  dialect: DialectName,
  configYaml: string,
  options: Partial<StartOptions> & { secrets?: Record<string, string> } = {},
): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyrotor-e2e-'))
  const schema = dialect === 'postgres' ? `kr_e2e_${randomBytes(6).toString('hex')}` : undefined
  if (schema !== undefined) await pgQuery(`CREATE SCHEMA ${schema}`)
  const storeOptions =
    schema === undefined ? { dataDir } : { dataDir, databaseUrl: TEST_DATABASE_URL, schema }
  const { adminToken } = await runInit(storeOptions)
  const configPath = join(dataDir, 'keyrotor.yaml')
  writeFileSync(configPath, configYaml)
  const secrets = options.secrets ?? {}
  const keyrotor = await startKeyrotor({
    ...storeOptions,
    configPath,
    port: 0,
    logLevel: 'silent',
    pollMs: 20,
    revokeIntervalMs: 100,
    secretOf: (name) => secrets[name],
    ...options,
  })
  const url = keyrotor.url
  let checker: Promise<ResponseChecker> | undefined
  const harness: Harness = {
    keyrotor,
    url,
    adminToken,
    dataDir,
    storeOptions,
    async api<T>(method: string, path: string, body?: unknown, token = adminToken) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
      const text = await response.text()
      const contentType = response.headers.get('content-type')
      const parsed: unknown = text === '' ? null : contentType?.includes('json') ? JSON.parse(text) : text
      checker ??= responseCheckerFor(url)
      const problems = (await checker).problemsWith({
        method,
        path,
        status: response.status,
        contentType,
        body: parsed,
      })
      if (problems.length > 0) throw new Error(`response outside /openapi.json:\n${problems.join('\n')}`)
      return { status: response.status, body: parsed as T }
    },
    async stop() {
      // a test may have restarted the server on the same store: close whichever runs now
      await harness.keyrotor.close()
      if (schema !== undefined) await pgQuery(`DROP SCHEMA ${schema} CASCADE`)
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
  return harness
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

/** Polls until the run is terminal; returns it. */
export async function waitForRun<T extends { state: string }>(
  h: Harness,
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
