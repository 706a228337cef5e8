import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { DependentTarget } from '../src/dependents/dependent-client.js'
import type { DialectName } from '../src/store/dialect.js'

/** A throwaway store for one benchmark run: a temp data dir, plus a fresh schema on PostgreSQL. */
export interface BenchStore {
  options: { dataDir: string; databaseUrl?: string; schema?: string }
  configPath: string
  drop(): Promise<void>
}

const ENCRYPTER = 'encrypter'
const DECRYPTER = 'decrypter'

/** The decrypt-only dependent of each key; the in-process client keeps its `active` null. */
export const isVerifyOnly = (target: DependentTarget): boolean => target.name === DECRYPTER

/** Whether PostgreSQL answers at `url` within two seconds. */
export async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    await client.end()
    return true
  } catch {
    return false
  }
}

export async function createBenchStore(
  dialect: DialectName,
  keys: number,
  databaseUrl: string,
  yaml: string = configYaml(keys),
): Promise<BenchStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyrotor-bench-'))
  const schema = dialect === 'postgres' ? `kr_bench_${randomBytes(6).toString('hex')}` : undefined
  if (schema !== undefined) await pgQuery(databaseUrl, `CREATE SCHEMA ${schema}`)
  const configPath = join(dataDir, 'keyrotor.yaml')
  writeFileSync(configPath, yaml)
  return {
    options: schema === undefined ? { dataDir } : { dataDir, databaseUrl, schema },
    configPath,
    async drop() {
      if (schema !== undefined) await pgQuery(databaseUrl, `DROP SCHEMA ${schema} CASCADE`)
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export function keyIdOf(index: number): string {
  return `bench-${String(index).padStart(6, '0')}`
}

/**
 * N AES-256-GCM keys at the local provider, each with an alias, one dependent that encrypts and
 * one that only decrypts. The URLs are never called: the in-process client answers instead.
 */
function configYaml(keys: number): string {
  const lines = ['keys:']
  for (let i = 0; i < keys; i++) {
    const id = keyIdOf(i)
    const dependent = (name: string) =>
      `      - name: ${name}\n` +
      `        probe: { http: "http://${name}.${id}.bench.invalid/keyrotor/probe" }\n` +
      `        notify: { http: "http://${name}.${id}.bench.invalid/keyrotor/notify" }`
    lines.push(
      `  - id: ${id}`,
      '    provider: local',
      '    algorithm: aes-256-gcm',
      '    owner: bench',
      `    aliases: [alias/${id}]`,
      // a grace period longer than the run: no revoke starts while the benchmark measures
      '    policy: { gracePeriod: 7d, phaseTimeout: 10m }',
      '    dependents:',
      dependent(ENCRYPTER),
      dependent(DECRYPTER),
    )
  }
  return `${lines.join('\n')}\n`
}

async function pgQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}
