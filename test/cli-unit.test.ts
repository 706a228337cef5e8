import { spawn } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { RunView } from '../src/cli/api-types.js'
import { runCli } from '../src/cli/program.js'
import type { CliContext } from '../src/cli/session.js'

/**
 * The real server is not written yet, so client behaviour is checked against a small HTTP stub
 * speaking the contract's shapes; the lead's end-to-end suite runs the CLI against the real one.
 */
interface Recorded {
  method: string
  url: string
  body: unknown
  auth: string | undefined
}
type Route = (req: Recorded) => { status: number; body: unknown; type?: string }

const servers: { close(): void }[] = []
afterEach(() => {
  for (const server of servers.splice(0)) server.close()
})

async function stub(route: Route): Promise<{ url: string; requests: Recorded[] }> {
  const requests: Recorded[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = ''
    req.on('data', (chunk: Buffer) => (text += chunk.toString()))
    req.on('end', () => {
      const recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        body: text ? JSON.parse(text) : undefined,
        auth: req.headers.authorization,
      }
      requests.push(recorded)
      const answer = route(recorded)
      res.writeHead(answer.status, { 'content-type': answer.type ?? 'application/json' })
      res.end(JSON.stringify(answer.body))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests }
}

function problem(status: number, code: string, detail: string) {
  const body = { type: 'about:blank', title: code, status, detail, code, correlationId: 'cid-9' }
  return { status, body, type: 'application/problem+json' }
}

function run(overrides: Partial<RunView> = {}): RunView {
  return {
    id: 'run-1',
    key: 'payments-dek',
    kind: 'rotate',
    state: 'queued',
    phase: 'preflight',
    fromVersion: 1,
    toVersion: null,
    correlationId: 'cid-1',
    idempotencyKey: null,
    trigger: 'manual',
    requestedBy: 'alice',
    priority: 2,
    failure: null,
    duplicateCount: 0,
    attempt: null,
    reason: null,
    validation: null,
    createdAt: '2026-11-26T04:12:00.000Z',
    startedAt: null,
    finishedAt: null,
    ...overrides,
  }
}

async function cli(argv: string[], options: { url: string; interrupt?: (fire: () => void) => void }) {
  const captured = { stdout: '', stderr: '' }
  const ctx: CliContext = {
    env: { url: options.url, token: 'tok-1', masterKey: undefined, logLevel: undefined },
    stdout: (t) => void (captured.stdout += t),
    stderr: (t) => void (captured.stderr += t),
    onInterrupt: (handler) => {
      options.interrupt?.(handler)
      return () => {}
    },
    secretOf: () => undefined,
    importApp: () => Promise.reject(new Error('not in these tests')),
    pollIntervalMs: 10,
  }
  const code = await runCli(argv, ctx)
  return { code, ...captured }
}

/** A rotation that goes queued → running → `final` over successive polls, with three events. */
function rotationRoute(final: Partial<RunView>): Route {
  let polls = 0
  const events = [
    { id: 1, at: '2026-11-26T04:12:01.000Z', type: 'run.created', phase: null, message: 'created' },
    {
      id: 2,
      at: '2026-11-26T04:12:01.123Z',
      type: 'phase.completed',
      phase: 'distribute',
      message: 'staged v2 on 3 dependents',
    },
    { id: 3, at: '2026-11-26T04:12:02.000Z', type: 'run.succeeded', phase: 'validate', message: 'done' },
  ]
  return (req) => {
    if (req.method === 'POST' && req.url === '/v1/keys/payments-dek/rotations')
      return { status: 201, body: run() }
    if (req.url === '/v1/runs/run-1')
      return { status: 200, body: ++polls < 3 ? run({ state: 'running' }) : run(final) }
    if (req.url.startsWith('/v1/runs/run-1/events')) {
      const after = Number(new URL(req.url, 'http://x').searchParams.get('after'))
      const shown = events.filter((e) => e.id > after && e.id <= polls)
      return { status: 200, body: { events: shown, cursor: shown.at(-1)?.id ?? after } }
    }
    return problem(404, 'NOT_FOUND', `no route ${req.url}`)
  }
}

describe('keyrotor CLI against an HTTP stub', () => {
  it('prints exactly one parseable JSON document for keys list --json and sends the bearer token', async () => {
    const server = await stub(() => ({
      status: 200,
      body: [{ id: 'payments-dek', versions: [], aliases: [] }],
    }))
    const result = await cli(['keys', 'list', '--json'], server)
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual([{ id: 'payments-dek', versions: [], aliases: [] }])
    expect(server.requests[0]?.auth).toBe('Bearer tok-1')
  })

  it('exits 4 on CONCURRENT_ROTATION and names the detail, code and correlation id on stderr', async () => {
    const server = await stub(() =>
      problem(409, 'CONCURRENT_ROTATION', 'key payments-dek already has run run-0'),
    )
    const result = await cli(['rotate', 'payments-dek', '--json'], server)
    expect(result.code).toBe(4)
    expect(result.stderr).toContain(
      'keyrotor: key payments-dek already has run run-0 (code CONCURRENT_ROTATION, correlation id cid-9)',
    )
    expect(JSON.parse(result.stdout)).toEqual({
      error: {
        code: 'CONCURRENT_ROTATION',
        message: 'key payments-dek already has run run-0',
        correlationId: 'cid-9',
      },
    })
  })

  it.each([
    [401, 'UNAUTHENTICATED', 7],
    [423, 'HALTED', 5],
    [422, 'PREFLIGHT_REJECTED', 3],
    [418, 'SOMETHING_NEW', 1],
  ])('exits by the table for a %i %s problem', async (status, code, exit) => {
    const server = await stub(() => problem(status, code, 'refused'))
    expect((await cli(['rotate', 'payments-dek'], server)).code).toBe(exit)
  })

  it('prints one line per run without --wait', async () => {
    const server = await stub(rotationRoute({}))
    const result = await cli(['rotate', 'payments-dek', '--reason', 'quarterly', '--attempt', '2'], server)
    expect(result.stdout).toBe('run run-1 queued key=payments-dek correlation=cid-1\n')
    expect(server.requests[0]?.body).toEqual({ reason: 'quarterly', attempt: 2 })
  })

  it('streams events with --wait and ends stdout with the KEYROTOR-RESULT line, exit 0 on success', async () => {
    const server = await stub(rotationRoute({ state: 'succeeded', toVersion: 2 }))
    const result = await cli(['rotate', 'payments-dek', '--wait'], server)
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(
      '2026-11-26T04:12:01.123Z  distribute  phase.completed  staged v2 on 3 dependents',
    )
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe('KEYROTOR-RESULT=SUCCEEDED run=run-1 exit=0')
    // a generated idempotency key lets a reconnect attach instead of starting a second run
    expect((server.requests[0]?.body as { idempotencyKey: string }).idempotencyKey).toMatch(/^cli-/)
  })

  it('prints the run as the only JSON document with --wait --json and the result line on stderr', async () => {
    const failure = {
      class: 'dependency_not_ready' as const,
      phase: 'distribute' as const,
      message: 'api-2 did not load v2',
    }
    const server = await stub(rotationRoute({ state: 'failed', failure }))
    const result = await cli(
      ['rotate', 'payments-dek', '--wait', '--json', '--idempotency-key', 'order-7'],
      server,
    )
    expect(result.code).toBe(1)
    expect(JSON.parse(result.stdout)).toMatchObject({ id: 'run-1', state: 'failed', failure })
    expect(result.stderr.trimEnd().split('\n').at(-1)).toBe('KEYROTOR-RESULT=FAILED run=run-1 exit=1')
    expect(server.requests[0]?.body).toEqual({ idempotencyKey: 'order-7' })
  })

  it('exits 3 when the run failed pre-flight and prints its failure class and phase', async () => {
    const failure = {
      class: 'preflight_rejected' as const,
      phase: 'preflight' as const,
      message: 'outside window',
    }
    const result = await cli(
      ['runs', 'wait', 'run-1'],
      await stub(rotationRoute({ state: 'failed', failure })),
    )
    expect(result.code).toBe(3)
    expect(result.stdout).toContain('failure: class preflight_rejected, phase preflight: outside window')
  })

  it('exits 6 with the run state in the result line when --timeout elapses', async () => {
    const server = await stub((req) =>
      req.url.includes('/events')
        ? { status: 200, body: { events: [], cursor: 0 } }
        : { status: 200, body: run({ state: 'awaiting_approval' }) },
    )
    const result = await cli(['runs', 'wait', 'run-1', '--timeout', '50ms'], server)
    expect(result.code).toBe(6)
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe(
      'KEYROTOR-RESULT=AWAITING_APPROVAL run=run-1 exit=6',
    )
  })

  it('detaches on an interrupt with exit 6 and never cancels the run', async () => {
    const server = await stub((req) =>
      req.url.includes('/events')
        ? { status: 200, body: { events: [], cursor: 0 } }
        : { status: 200, body: run({ state: 'running' }) },
    )
    const result = await cli(['runs', 'wait', 'run-1'], {
      ...server,
      interrupt: (fire) => setTimeout(fire, 60),
    })
    expect(result.code).toBe(6)
    expect(result.stderr).toContain('detached from run run-1; it goes on')
    expect(server.requests.some((r) => r.url.includes('cancel'))).toBe(false)
  })

  it('runs halt status as a subcommand of halt, with its own --json', async () => {
    const server = await stub(() => ({
      status: 200,
      body: { engaged: false, reason: null, by: null, since: null },
    }))
    const result = await cli(['halt', 'status', '--json'], server)
    expect(JSON.parse(result.stdout)).toEqual({ engaged: false, reason: null, by: null, since: null })
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /v1/halt'])
  })
})

/** The CLI as a subprocess, from source (the build does not exist yet). */
function spawnCli(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      env: { ...process.env, KEYROTOR_TOKEN: '', ...env },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('keyrotor CLI as a process', () => {
  it('exits 8 and says it cannot reach the server when nothing listens', async () => {
    const url = `http://127.0.0.1:${await freePort()}`
    const result = await spawnCli(['keys', 'list'], { KEYROTOR_URL: url })
    expect(result.code).toBe(8)
    expect(result.stderr).toContain(`cannot reach keyrotor at ${url}`)
  })

  it('exits 0 for config validate on a valid file and 2 naming the path of each problem on a bad one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keyrotor-cli-'))
    const good = join(dir, 'good.yaml')
    const bad = join(dir, 'bad.yaml')
    await writeFile(
      good,
      'keys:\n  - { id: payments-dek, provider: local, algorithm: aes-256-gcm, owner: team }\n',
    )
    await writeFile(
      bad,
      'keys:\n  - { id: payments-dek, provider: nope, algorithm: aes-256-gcm, owner: team }\n',
    )
    const ok = await spawnCli(['config', 'validate', good])
    expect(ok).toMatchObject({ code: 0, stdout: `${good}: valid (1 key)\n` })
    const invalid = await spawnCli(['config', 'validate', bad])
    expect(invalid.code).toBe(2)
    expect(invalid.stdout).toContain(`${bad}: keys[0].provider:`)
  })

  it('exits 2 on an unknown option', async () => {
    const result = await spawnCli(['keys', 'list', '--bogus'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("unknown option '--bogus'")
  })
})
