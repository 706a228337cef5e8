import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { freePort } from '../src/demo/free-port.js'
import { percentiles, type Percentiles } from './percentiles.js'
import { cpuProfArgs } from './profile-args.js'
import { fillStore, type FilledStore } from './scale-fill.js'

/**
 * `npm run bench:scale`: a store the size of a large deployment (100,000 keys, 10,000,000 audit
 * records by default; flags for smaller runs), then the server as its own process on it: start-up
 * time, p99 of the read routes an operator uses, `audit verify` records/s, and the server's RSS.
 * `--dir D` keeps the filled store in D and reuses it on the next run (filling 10M takes a while).
 */
const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '100000' },
    audit: { type: 'string', default: '10000000' },
    runs: { type: 'string' },
    alerts: { type: 'string', default: '10000' },
    repeat: { type: 'string', default: '200' },
    dir: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    /** Fill the store in --dir and stop: measure later (or again) with the same --dir. */
    'fill-only': { type: 'boolean', default: false },
  },
})

const keys = Number(values.keys)
const counts = {
  keys,
  audit: Number(values.audit),
  runs: Number(values.runs ?? keys),
  alerts: Number(values.alerts),
}
const repeat = Number(values.repeat)
const CLI = resolve(import.meta.dirname, '../src/cli/main.js')
const progress = (message: string) => process.stderr.write(`[scale] ${message}\n`)

interface RouteFigure {
  route: string
  latencyMs: Percentiles
  /** Items in one answer: shows a route that returns everything instead of a page. */
  items: number
  bytes: number
}

async function main(): Promise<void> {
  const dataDir = values.dir ?? mkdtempSync(join(tmpdir(), 'keyrotor-scale-'))
  const infoFile = join(dataDir, 'scale-fill.json')
  let filled: FilledStore
  if (existsSync(infoFile)) {
    filled = JSON.parse(readFileSync(infoFile, 'utf8')) as FilledStore
    progress(`reusing the store in ${dataDir}`)
  } else {
    filled = await fillStore(dataDir, counts, progress)
    writeFileSync(infoFile, JSON.stringify(filled))
  }
  if (values['fill-only']) return
  try {
    const server = await startServer(filled)
    try {
      const figures = await measureRoutes(server.url, filled)
      const verify = await measureVerify(server.url, filled.adminToken, server.child.pid ?? 0)
      const rss = residentMb(server.child.pid ?? 0)
      const report = {
        store: counts,
        fillSeconds: filled.seconds,
        startupMs: server.startupMs,
        rss,
        verify,
        routes: figures,
      }
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
      printTable(report.startupMs, rss, verify, figures)
    } finally {
      server.child.kill('SIGTERM')
      await new Promise((done) => server.child.once('exit', done))
    }
  } finally {
    if (values.dir === undefined) rmSync(dataDir, { recursive: true, force: true })
  }
}

/** The real server as a process; start-up is spawn → first 200 from /readyz. */
async function startServer(
  filled: FilledStore,
): Promise<{ child: ChildProcess; url: string; startupMs: number }> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const started = performance.now()
  const child = spawn(
    process.execPath,
    [
      ...cpuProfArgs(values['cpu-prof'], 'scale-server'),
      CLI,
      'server',
      '--data-dir',
      filled.dataDir,
      '--config',
      filled.configPath,
      '--port',
      String(port),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, KEYROTOR_LOG_LEVEL: 'warn' } },
  )
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`)
    try {
      if ((await fetch(`${url}/readyz`)).ok) break
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 20))
  }
  const startupMs = Math.round(performance.now() - started)
  progress(`server ready in ${startupMs} ms`)
  return { child, url, startupMs }
}

async function measureRoutes(url: string, filled: FilledStore): Promise<RouteFigure[]> {
  const headers = { authorization: `Bearer ${filled.adminToken}` }
  const get = async (path: string): Promise<{ ms: number; body: unknown; bytes: number }> => {
    const started = performance.now()
    const response = await fetch(`${url}${path}`, { headers })
    const text = await response.text()
    const ms = performance.now() - started
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${text.slice(0, 200)}`)
    return { ms, body: JSON.parse(text) as unknown, bytes: text.length }
  }
  const measure = async (
    route: string,
    pathOf: (i: number) => string | Promise<string>,
  ): Promise<RouteFigure> => {
    const times: number[] = []
    let items = 0
    let bytes = 0
    await get(await pathOf(0)) // warm: compiled statements, page cache
    for (let i = 0; i < repeat; i++) {
      const answer = await get(await pathOf(i))
      times.push(answer.ms)
      items = countItems(answer.body)
      bytes = answer.bytes
    }
    const figure = { route, latencyMs: percentiles(times), items, bytes }
    progress(`${route}: p50 ${figure.latencyMs.p50} ms, p99 ${figure.latencyMs.p99} ms, ${items} items`)
    return figure
  }
  // keys paged: walk forward from the start, a page per request, as a client listing the fleet does
  let cursor: string | undefined
  const keysPage = async () => {
    const path = `/v1/keys?limit=100${cursor === undefined ? '' : `&cursor=${cursor}`}`
    const { body } = await get(path)
    const list = body as { id: string }[]
    cursor = list.at(-1)?.id
    return path
  }
  const sampleRun = ((await get(`/v1/runs?key=${filled.sampleKey}`)).body as { id: string }[])[0]?.id
  return [
    await measure('GET /v1/keys?limit=100 (paged)', keysPage),
    await measure(
      'GET /v1/keys?limit=100&cursor=<middle>',
      () => `/v1/keys?limit=100&cursor=${filled.sampleKey}`,
    ),
    await measure('GET /v1/keys/:key', (i) => `/v1/keys/${i % 2 === 0 ? filled.sampleKey : 'scale-000001'}`),
    await measure('GET /v1/runs', () => '/v1/runs'),
    await measure('GET /v1/runs?key=K', () => `/v1/runs?key=${filled.sampleKey}`),
    await measure('GET /v1/runs/:id', () => `/v1/runs/${sampleRun ?? 'none'}`),
    await measure('GET /v1/alerts?limit=100 (paged)', () => '/v1/alerts?limit=100'),
    // without a limit the route answers the whole list, as before paging came (CONTRACT: unchanged)
    await measure('GET /v1/alerts (whole list)', () => '/v1/alerts'),
    await measure('GET /v1/alerts?state=open', () => '/v1/alerts?state=open'),
    await measure('GET /v1/timeline/:correlationId', () => `/v1/timeline/${filled.sampleCorrelationId}`),
  ]
}

function countItems(body: unknown): number {
  if (Array.isArray(body)) return body.length
  if (typeof body === 'object' && body !== null) {
    for (const value of Object.values(body)) if (Array.isArray(value)) return value.length
  }
  return 1
}

/** CPU seconds (user + system) a process has used so far (Linux /proc; clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/**
 * `audit verify` over HTTP: records per second of wall time, and per CPU second of the server (on
 * a machine shared with other work the wall figure shows the load; the CPU one shows the code).
 */
async function measureVerify(
  url: string,
  token: string,
  pid: number,
): Promise<{
  records: number
  seconds: number
  recordsPerSecond: number
  recordsPerCpuSecond: number
  valid: boolean
}> {
  const cpuBefore = cpuSeconds(pid)
  const started = performance.now()
  const response = await fetch(`${url}/v1/audit/verify`, { headers: { authorization: `Bearer ${token}` } })
  const report = (await response.json()) as { valid: boolean; checked: number; brokenAt?: unknown }
  const seconds = (performance.now() - started) / 1000
  const cpu = cpuSeconds(pid) - cpuBefore
  if (!report.valid)
    throw new Error(`audit verify says the chain is broken: ${JSON.stringify(report.brokenAt)}`)
  const figure = {
    records: report.checked,
    seconds: Math.round(seconds * 100) / 100,
    recordsPerSecond: Math.round(report.checked / seconds),
    recordsPerCpuSecond: Math.round(report.checked / cpu),
    valid: report.valid,
  }
  progress(
    `audit verify: ${figure.records} records in ${figure.seconds} s = ${figure.recordsPerSecond}/s (${figure.recordsPerCpuSecond} per CPU second of the server)`,
  )
  return figure
}

/** Current and peak resident set of a process, in MB (Linux /proc). */
function residentMb(pid: number): { currentMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0)
  return { currentMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) }
}

function printTable(
  startupMs: number,
  rss: { currentMb: number; peakMb: number },
  verify: { recordsPerSecond: number; recordsPerCpuSecond: number },
  routes: RouteFigure[],
): void {
  const lines = [
    `store: ${counts.keys} keys, ${counts.audit} audit records, ${counts.runs} runs, ${counts.alerts} alerts`,
    `start-up ${startupMs} ms (target ≤ 3000) · RSS ${rss.currentMb} MB, peak ${rss.peakMb} MB (target ≤ 300) · audit verify ${verify.recordsPerSecond} records/s, ${verify.recordsPerCpuSecond} per CPU second (target ≥ 100000)`,
    ...routes.map(
      (r) =>
        `${r.route.padEnd(42)} p50 ${String(r.latencyMs.p50).padStart(8)} ms  p99 ${String(r.latencyMs.p99).padStart(8)} ms  ${r.items} items, ${r.bytes} bytes`,
    ),
  ]
  process.stderr.write(`${lines.join('\n')}\n`)
}

await main()
