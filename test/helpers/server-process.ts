import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import pg from 'pg'
import { freePort } from '../../src/demo/free-port.js'
import { runInit } from '../../src/main.js'
import type { DialectName } from '../../src/store/dialect.js'
import { spawnCli, waitForLine } from './cli.js'
import { TEST_DATABASE_URL } from './stores.js'

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
  secrets: Record<string, string>,
): Promise<ServerFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyrotor-proc-'))
  const schema = dialect === 'postgres' ? `kr_proc_${randomBytes(6).toString('hex')}` : undefined
  if (schema !== undefined) await pgQuery(`CREATE SCHEMA ${schema}`)
  // a server process takes the schema from the URL: every connection starts in it
  const databaseUrl =
    schema === undefined
      ? undefined
      : `${TEST_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`
  const { adminToken } = await runInit({ dataDir, databaseUrl })
  const configPath = join(dataDir, 'keyrotor.yaml')
  writeFileSync(configPath, configYaml)
  const children: ChildProcess[] = []
  return {
    dataDir,
    databaseUrl,
    adminToken,
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

/** Calls the API of a server process. */
export async function call<T>(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await response.text()
  return { status: response.status, body: (text === '' ? null : JSON.parse(text)) as T }
}
