import { createServer, type RequestListener } from 'node:http'
import type { ChildProcess } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import type { ServerProcess } from './harness.js'

/**
 * Serves a dependent's handler on `port`, answering each probe only after `delayMs`, so that a
 * run's phases take long enough for a test to catch it held by one instance. Notices are not
 * delayed. The answer is computed after the delay, so it is never stale.
 */
export async function serveWithSlowProbes(
  handler: RequestListener,
  port: number,
  delayMs: number,
): Promise<{ close(): Promise<void> }> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET') return handler(request, response)
    setTimeout(() => handler(request, response), delayMs)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** One line of a server process's JSON log. */
export interface LogLine {
  level: string
  msg: string
  runId?: string
  err?: { code?: string; message?: string }
  /** When this test process read the line. */
  readAt: number
}

/** Collects the JSON log lines a server process writes to stdout from now on. */
export function captureLogs(child: ChildProcess): LogLine[] {
  const lines: LogLine[] = []
  let partial = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString()
    const complete = text.split('\n')
    partial = complete.pop() ?? ''
    for (const line of complete) {
      if (!line.startsWith('{')) continue
      try {
        lines.push({ ...(JSON.parse(line) as Omit<LogLine, 'readAt'>), readAt: Date.now() })
      } catch {
        // not a log line
      }
    }
  })
  return lines
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs` naming what it waited for. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(intervalMs)
  }
}

/**
 * SIGSTOPs a server process at a moment it holds no open database transaction (checked through
 * its connections' `application_name`). A process stopped inside a transaction keeps its row
 * locks: no other instance could take its runs over until it resumes, whatever its lease says.
 */
export async function pauseOutsideTransaction(
  client: pg.Client,
  server: ServerProcess,
  applicationName: string,
): Promise<{ attempts: number }> {
  for (let attempt = 1; attempt <= 50; attempt++) {
    server.child.kill('SIGSTOP')
    // a statement already sent still completes at the server; wait until none is running
    const states = await until(
      `the connections of ${applicationName} to settle`,
      async () => {
        const { rows } = await client.query<{ state: string | null }>(
          'SELECT state FROM pg_stat_activity WHERE application_name = $1',
          [applicationName],
        )
        return rows.some((r) => r.state === 'active') ? undefined : rows
      },
      5_000,
      10,
    )
    if (!states.some((r) => r.state?.startsWith('idle in transaction') === true)) return { attempts: attempt }
    server.child.kill('SIGCONT')
    await sleep(15 + Math.floor(Math.random() * 40))
  }
  throw new Error(`${applicationName} was inside a transaction at each of 50 attempts to pause it`)
}
