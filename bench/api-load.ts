import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import SqliteDatabase from 'better-sqlite3'
import { deriveAuditKey } from '../src/audit/chain.js'
import { freePort } from '../src/demo/free-port.js'
import { runInit } from '../src/main.js'
import { loadMasterKey } from '../src/providers/local/master-key.js'
import { SQLITE_FILE } from '../src/store/database.js'
import { cpuProfArgs } from './profile-args.js'
import { enrolKeys, scaleKeyId } from './scale-keys.js'

/**
 * `npm run bench:api`: the API under load, with autocannon: `--writes` rotation triggers/s (each
 * with its own idempotency key, on a key of its own, so every one starts a run the engine then
 * executes) and `--reads` key reads/s together for `--seconds`, on SQLite. Then the same load on
 * bench/api-baseline-server.ts (bare Fastify + better-sqlite3 doing the same inserts and reads) in
 * the same run: p99 of each and keyrotor's ratio to the floor.
 */
const { values } = parseArgs({
  options: {
    writes: { type: 'string', default: '500' },
    reads: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '60' },
    'cpu-prof': { type: 'boolean', default: false },
  },
})
const writes = Number(values.writes)
const reads = Number(values.reads)
const seconds = Number(values.seconds)
// one key per trigger: a second trigger of a key with a run in flight would be a 409, not a write
const keys = writes * seconds + 100
const CLI = resolve(import.meta.dirname, '../src/cli/main.js')
const BASELINE = resolve(import.meta.dirname, 'api-baseline-server.js')
const progress = (message: string) => process.stderr.write(`[api] ${message}\n`)

interface LoadFigure {
  requests: number
  perSecond: number
  p50Ms: number
  p99Ms: number
  /** Connection errors and timeouts, and answers other than 2xx. */
  errors: number
  non2xx: number
  statuses: Record<string, number>
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyrotor-api-load-'))
  try {
    const { adminToken } = await runInit({ dataDir })
    const masterKey = loadMasterKey({ dataDir })
    const sqlite = new SqliteDatabase(join(dataDir, SQLITE_FILE))
    const configPath = join(dataDir, 'keyrotor.yaml')
    await enrolKeys(sqlite, {
      keys,
      configPath,
      masterKey,
      auditKey: deriveAuditKey(masterKey),
      dependents: false,
    })
    sqlite.close()
    progress(`${keys} keys enrolled; keyrotor under load for ${seconds} s`)

    const port = await freePort()
    const server = spawn(
      process.execPath,
      [
        ...cpuProfArgs(values['cpu-prof'], 'api-server'),
        CLI,
        'server',
        '--data-dir',
        dataDir,
        '--config',
        configPath,
        '--port',
        String(port),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, KEYROTOR_LOG_LEVEL: 'warn' } },
    )
    const keyrotorUrl = `http://127.0.0.1:${port}`
    const keyrotor = await underLoad(server, keyrotorUrl, adminToken, 'keyrotor')

    progress(`baseline (bare Fastify + better-sqlite3) under the same load`)
    const baselineServer = spawn(process.execPath, [BASELINE, dataDir, String(keys)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const baselineUrl = await firstLine(baselineServer)
    const baseline = await underLoad(baselineServer, baselineUrl, adminToken, 'baseline')

    const ratio = (a: number, b: number) => (b === 0 ? 0 : Math.round((a / b) * 100) / 100)
    const report = {
      load: { writesPerSecond: writes, readsPerSecond: reads, seconds },
      keyrotor,
      baseline,
      ratioP99: {
        writes: ratio(keyrotor.writes.p99Ms, baseline.writes.p99Ms),
        reads: ratio(keyrotor.reads.p99Ms, baseline.reads.p99Ms),
      },
    }
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
    const line = (name: string, f: LoadFigure) =>
      `${name.padEnd(18)} ${String(f.requests).padStart(7)} req ${f.perSecond.toFixed(0).padStart(5)}/s  p50 ${f.p50Ms.toFixed(1).padStart(7)} ms  p99 ${f.p99Ms.toFixed(1).padStart(7)} ms  errors ${f.errors}  non-2xx ${f.non2xx}`
    process.stderr.write(
      [
        line('keyrotor writes', keyrotor.writes),
        line('keyrotor reads', keyrotor.reads),
        line('baseline writes', baseline.writes),
        line('baseline reads', baseline.reads),
        `p99 ratio keyrotor/baseline: writes ${report.ratioP99.writes}×, reads ${report.ratioP99.reads}× (target ≤ 1.5×)`,
      ].join('\n') + '\n',
    )
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** Waits for the server, runs writes and reads together, stops the server. */
async function underLoad(
  server: ChildProcess,
  url: string,
  token: string,
  name: string,
): Promise<{ writes: LoadFigure; reads: LoadFigure }> {
  try {
    await ready(server, url)
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    let written = 0
    const writing = autocannon({
      url,
      connections: 50,
      overallRate: writes,
      duration: seconds,
      requests: [
        {
          method: 'POST',
          headers,
          setupRequest: (request) => {
            const key = scaleKeyId(written)
            written += 1
            return {
              ...request,
              path: `/v1/keys/${key}/rotations`,
              body: JSON.stringify({ idempotencyKey: `${name}-${key}`, reason: 'load' }),
            }
          },
        },
      ],
    })
    let read = 0
    const reading = autocannon({
      url,
      connections: 50,
      overallRate: reads,
      duration: seconds,
      requests: [
        {
          method: 'GET',
          headers,
          setupRequest: (request) => {
            read += 1
            return { ...request, path: `/v1/keys/${scaleKeyId((read * 7919) % keys)}` }
          },
        },
      ],
    })
    const [w, r] = await Promise.all([writing, reading])
    return { writes: figure(w), reads: figure(r) }
  } finally {
    server.kill('SIGTERM')
    await new Promise((done) => server.once('exit', done))
  }
}

function figure(result: autocannon.Result): LoadFigure {
  const statuses: Record<string, number> = {}
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = stat.count ?? 0
  return {
    requests: result.requests.total,
    perSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    statuses,
  }
}

async function ready(server: ChildProcess, url: string): Promise<void> {
  for (;;) {
    if (server.exitCode !== null) throw new Error(`the server exited with ${server.exitCode}`)
    try {
      if ((await fetch(`${url}/readyz`)).status < 500) return
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 50))
  }
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((done, fail) => {
    let buffer = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      const end = buffer.indexOf('\n')
      if (end >= 0) done(buffer.slice(0, end).trim())
    })
    child.once('exit', (code) => fail(new Error(`the baseline server exited with ${code}`)))
  })
}

await main()
