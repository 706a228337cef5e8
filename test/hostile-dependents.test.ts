import { readFileSync } from 'node:fs'
import { createServer, type Server, type ServerResponse } from 'node:http'
import { createGzip } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../src/demo/free-port.js'
import type { RunView } from '../src/engine/views.js'
import type { Alert } from '../src/observability/alerts.js'
import { exitOf } from './helpers/cli.js'
import { until } from './helpers/instances.js'
import { call } from './helpers/http.js'
import { createServerFixture, type ServerFixture, type ServerProcess } from './helpers/harness.js'

/**
 * Issue 9 items 3 and 4 (and the readiness failure of item 12) against dependents that fight
 * back, with a real server process: a probe answer that is a gzip bomb (≈0.5 MB inflating to
 * 512 MB), an endless body, a slowloris trickle, an exec probe that prints forever, an exec probe
 * whose grandchild keeps its output open, and one that answers well but never accepts the new
 * version. Before: the bomb took the server to gigabytes of RSS, and a probe that never settled
 * held its run past the phase deadline. Now each run ends by its deadline and RSS stays low.
 */

const PHASE_TIMEOUT_S = 3
const BOMB_MB = 512

interface Hostile {
  key: string
  probe: string
  /** The phase the run must fail in and the failure class it must record. */
  failsIn: string
  failureClass: string
}

describe('hostile dependents', () => {
  const servers: Server[] = []
  let fixture: ServerFixture | undefined
  let keyrotor: ServerProcess | undefined

  afterAll(async () => {
    if (keyrotor !== undefined && keyrotor.child.exitCode === null) {
      keyrotor.child.kill('SIGKILL')
      await exitOf(keyrotor.child)
    }
    for (const server of servers) {
      server.closeAllConnections()
      server.close()
    }
    await fixture?.dispose()
  })

  async function serve(handler: (response: ServerResponse, path: string) => void): Promise<string> {
    const port = await freePort()
    const server = createServer((request, response) => handler(response, request.url ?? '/'))
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    return `http://127.0.0.1:${port}`
  }

  it('ends every run by its phase deadline and keeps RSS under 300 MB', async () => {
    const bomb = await gzipOfZeros(BOMB_MB)
    const hostile: Hostile[] = [
      {
        key: 'bomb-dek',
        probe: `http: "${await serve((res) => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
          res.end(bomb)
        })}/probe"`,
        failsIn: 'preflight',
        failureClass: 'preflight_rejected',
      },
      {
        key: 'endless-dek',
        probe: `http: "${await serve((res) => {
          res.writeHead(200, { 'content-type': 'application/json' })
          const chunk = Buffer.alloc(64 * 1024, '[')
          const pump = () => {
            while (!res.destroyed && res.write(chunk));
            if (!res.destroyed) res.once('drain', pump)
          }
          pump()
        })}/probe"`,
        failsIn: 'preflight',
        failureClass: 'preflight_rejected',
      },
      {
        key: 'slowloris-dek',
        probe: `http: "${await serve((res) => {
          res.writeHead(200, { 'content-type': 'application/json' })
          const timer = setInterval(() => res.write(' '), 200)
          res.once('close', () => clearInterval(timer))
        })}/probe"`,
        failsIn: 'preflight',
        failureClass: 'preflight_rejected',
      },
      { key: 'chatty-dek', probe: 'exec: ["yes"]', failsIn: 'preflight', failureClass: 'preflight_rejected' },
      {
        key: 'orphan-dek',
        // the grandchild keeps the probe's stdout open long after the probe itself is killed
        probe: `exec: ["sh", "-c", "sleep 20 & sleep 20"]`,
        failsIn: 'preflight',
        failureClass: 'preflight_rejected',
      },
      {
        key: 'stubborn-dek',
        probe: `http: "${await serve((res, path) => {
          const key = path.split('/')[1]
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ key, accepts: [1], active: 1 }))
        })}/stubborn-dek/probe"`,
        failsIn: 'distribute',
        failureClass: 'dependency_not_ready',
      },
    ]
    const yaml = `keys:${hostile
      .map(
        (h) => `
  - id: ${h.key}
    provider: local
    algorithm: aes-256-gcm
    owner: test-team
    aliases: [alias/${h.key}]
    policy: { gracePeriod: 1h, phaseTimeout: ${PHASE_TIMEOUT_S}s }
    dependents:
      - name: ${h.key}-svc
        probe: { ${h.probe} }`,
      )
      .join('')}`
    fixture = await createServerFixture('sqlite', yaml)
    keyrotor = await fixture.start({})
    const { url } = keyrotor
    const admin = fixture.adminToken

    const started = await Promise.all(
      hostile.map(async (h) => {
        const { status, body } = await call<RunView>(url, admin, 'POST', `/v1/keys/${h.key}/rotations`, {})
        expect(status, JSON.stringify(body)).toBe(201)
        return body
      }),
    )
    const ended = await Promise.all(
      started.map((run) =>
        until(
          `run ${run.id} on ${run.key} to end`,
          async () => {
            const { body } = await call<RunView>(url, admin, 'GET', `/v1/runs/${run.id}`)
            return body.finishedAt === null ? undefined : body
          },
          60_000,
          200,
        ),
      ),
    )
    for (const [i, run] of ended.entries()) {
      const h = hostile[i] as Hostile
      expect(run.failure, `${h.key}: ${JSON.stringify(run.failure)}`).toMatchObject({
        phase: h.failsIn,
        class: h.failureClass,
      })
      // one phase each, ended by its deadline: the watchdog's second past it, plus the time a busy
      // 2-core machine takes to record six failures at once (the bug was minutes, not seconds)
      const tookS = (Date.parse(run.finishedAt ?? '') - Date.parse(run.startedAt ?? run.createdAt)) / 1000
      const phases = h.failsIn === 'distribute' ? 3 : 1
      expect(tookS, `${h.key} ended by its deadline`).toBeLessThan(phases * PHASE_TIMEOUT_S + 5)
    }
    const stubborn = ended[hostile.length - 1] as RunView
    expect(stubborn.failure?.message).toMatch(
      /stubborn-dek-svc.*wanted accepts v2.*last answered accepts \[1\]/,
    )
    const alerts = (await call<Alert[]>(url, admin, 'GET', '/v1/alerts')).body
    expect(alerts.filter((a) => a.runId === stubborn.id).map((a) => a.type)).toEqual(['dependency_not_ready'])

    const peakMb = peakRssMb(keyrotor.child.pid as number)
    expect(peakMb, 'the server never held an answer whole').toBeLessThan(300)
    expect((await fetch(`${url}/healthz`)).status).toBe(200)
    console.info(`hostile dependents: ${ended.length} runs ended by their deadlines, peak RSS ${peakMb} MB`)
  }, 90_000)
})

/** A gzip stream of `mb` MiB of zeros, built without holding them (≈1 KB of gzip per MiB). */
async function gzipOfZeros(mb: number): Promise<Buffer> {
  const gzip = createGzip({ level: 9 })
  const parts: Buffer[] = []
  gzip.on('data', (part: Buffer) => parts.push(part))
  const done = new Promise((resolve) => gzip.once('end', resolve))
  const zeros = Buffer.alloc(1 << 20)
  for (let i = 0; i < mb; i++) if (!gzip.write(zeros)) await new Promise((r) => gzip.once('drain', r))
  gzip.end()
  await done
  return Buffer.concat(parts)
}

/** The process's peak resident set (VmHWM), in MB. */
function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN)
  return Math.round(kb / 1024)
}
