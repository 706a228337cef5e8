import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../src/demo/free-port.js'
import type { Problem } from '../src/http/problem.js'
import { runInit } from '../src/main.js'
import { exitOf, runCliProcess, spawnCli } from './helpers/cli.js'
import { until } from './helpers/instances.js'
import { call } from './helpers/http.js'
import { canMountTmpfs, mountTmpfs, type SmallVolume } from './helpers/tmpfs.js'

/**
 * Issue 9 items 2 and 6 on a real full volume (a 16 MB tmpfs holding the SQLite data dir and the
 * --log-file). Before: the first log line after the disk filled ended the process (`ENOSPC …
 * Emitted 'error' event on SonicBoom`), a failed store write answered 500 (CLI exit 1), and a
 * restart on the full disk blamed "pid N" of the dead server for the data-dir lock.
 */
describe.skipIf(!canMountTmpfs())('a full volume under the data dir and the log file', () => {
  let volume: SmallVolume | undefined
  const children: ChildProcess[] = []

  afterAll(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exitOf(child)
      }
    }
    volume?.unmount()
  })

  it('keeps serving, answers 503 STORE_UNAVAILABLE (CLI exit 8), says why in /readyz, and recovers when space returns', async () => {
    volume = mountTmpfs(16)
    const dataDir = join(volume.dir, 'data')
    const logFile = join(volume.dir, 'logs', 'keyrotor.log')
    const { adminToken } = await runInit({ dataDir })
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const args = ['server', '--data-dir', dataDir, '--port', String(port), '--log-file', logFile]
    const server = spawnCli(args, { KEYROTOR_LOG_LEVEL: 'info' })
    children.push(server)
    server.stdout?.resume()
    server.stderr?.resume()
    await until(
      'the server to answer',
      () =>
        fetch(`${url}/healthz`).then(
          (r) => r.ok || undefined,
          () => undefined,
        ),
      30_000,
    )
    expect(statSync(logFile).mode & 0o777, 'the log file is created 0600').toBe(0o600)
    const newToken = (i: number) =>
      call<Problem>(url, adminToken, 'POST', '/v1/tokens', { user: `user-${i}`, role: 'viewer' })
    expect((await newToken(0)).status).toBe(201)

    volume.fill()
    for (let i = 0; i < 3; i++)
      expect((await fetch(`${url}/healthz`)).status, 'alive on a full disk').toBe(200)
    // the WAL may still have room for a few writes; sooner or later one needs a new block
    let refused: { status: number; body: Problem; retryAfter: string | null } | undefined
    for (let i = 1; i < 5000 && refused === undefined; i++) {
      const response = await newToken(i)
      if (response.status !== 201)
        refused = {
          status: response.status,
          body: response.body,
          retryAfter: response.headers.get('retry-after'),
        }
    }
    expect(refused, 'a write was refused once the volume was full').toBeDefined()
    expect(refused?.status).toBe(503)
    expect(refused?.body.code).toBe('STORE_UNAVAILABLE')
    expect(refused?.body.detail).toMatch(/disk is full|I\/O error/)
    expect(refused?.retryAfter).toMatch(/^\d+$/)

    const cli = await runCliProcess(['tokens', 'create', '--user', 'cli-user', '--role', 'viewer'], {
      KEYROTOR_URL: url,
      KEYROTOR_TOKEN: adminToken,
    })
    expect(cli.code, `the CLI exits 8 (safe to rerun): ${cli.stderr}`).toBe(8)

    const ready = await fetch(`${url}/readyz`)
    const readiness = (await ready.json()) as { status: string; reasons: string[] }
    expect(ready.status).toBe(503)
    expect(readiness.reasons.join('\n')).toMatch(/^store: /m)
    const metrics = await (await fetch(`${url}/metrics`)).text()
    const dropped = /keyrotor_log_lines_dropped_total\{reason="ENOSPC"\} (\d+)/.exec(metrics)
    expect(Number(dropped?.[1] ?? 0), 'dropped log lines are counted').toBeGreaterThan(0)
    expect(server.exitCode, 'the server is still running').toBeNull()

    volume.free()
    await until(
      '/readyz to say ready again',
      () => fetch(`${url}/readyz`).then((r) => r.ok || undefined),
      30_000,
    )
    expect((await newToken(9999)).status).toBe(201)
    const lines = readFileSync(logFile, 'utf8').trimEnd().split('\n')
    for (const line of lines) expect(() => JSON.parse(line) as unknown, line).not.toThrow()
    expect(lines.some((l) => /log lines were dropped/.test(l))).toBe(true)
    const verify = await call<{ valid: boolean }>(url, adminToken, 'GET', '/v1/audit/verify')
    expect(verify.body.valid).toBe(true)

    // a restart while the volume is still full: the lock tells the I/O error, not a dead pid
    server.kill('SIGTERM')
    expect(await exitOf(server)).toBe(0)
    volume.fill()
    const again = await runCliProcess(args, { KEYROTOR_LOG_LEVEL: 'info' })
    expect(again.stderr).toMatch(/cannot lock data dir .*not a conflict with another process/)
    expect(again.stderr).not.toMatch(/in use by/)
    expect(again.code).toBe(8)
  }, 120_000)
})
