import { execFile } from 'node:child_process'
import type { ExecFileException } from 'node:child_process'
import type { DependentTarget } from './dependent-client.js'
import { notReady } from './probe-answer.js'

export interface ExecProbeOptions {
  /** The environment the command runs in, besides KEYROTOR_KEY; main.ts decides what to pass. */
  env: Record<string, string>
  timeoutMs: number
  signal?: AbortSignal | undefined
}

/** Probe output is a small JSON object; anything far larger is a misbehaving command. */
const MAX_OUTPUT_BYTES = 64 * 1024

/**
 * Runs an exec probe (`probe: {exec: [cmd, args…]}`) without a shell, so no argument is ever
 * interpreted, and returns its stdout parsed as JSON. The command learns which key is asked about
 * from KEYROTOR_KEY. Any failure (cannot start, non-zero exit, timeout, not JSON) is
 * DEPENDENCY_NOT_READY; a caller's abort rethrows the caller's reason.
 */
export async function runExecProbe(
  target: DependentTarget,
  argv: string[],
  options: ExecProbeOptions,
): Promise<unknown> {
  const [command, ...args] = argv
  if (command === undefined || command === '') throw notReady(target, 'has an exec probe with no command')
  const env = { ...options.env, KEYROTOR_KEY: target.key }
  const run = {
    env,
    maxBuffer: MAX_OUTPUT_BYTES,
    // SIGKILL: a probe that ignores SIGTERM must not outlive its timeout
    killSignal: 'SIGKILL' as const,
    windowsHide: true,
  }
  const { error, stdout, stderr } = await new Promise<ExecOutcome>((resolve) => {
    const child = execFile(command, args, run, (error, stdout, stderr) => settle({ error, stdout, stderr }))
    // the answer is owed by the timeout or the caller's abort, not by the child closing its
    // output: a grandchild that keeps the pipe open would otherwise hold the phase
    const stop = (why: ExecOutcome) => {
      child.kill('SIGKILL')
      settle(why)
    }
    const timer = setTimeout(() => stop({ error: timedOut(), stdout: '', stderr: '' }), options.timeoutMs)
    const onAbort = () => stop({ error: timedOut(), stdout: '', stderr: '' })
    options.signal?.addEventListener('abort', onAbort, { once: true })
    function settle(outcome: ExecOutcome): void {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      resolve(outcome)
    }
  })
  if (options.signal?.aborted === true) throw options.signal.reason
  if (error !== null) throw notReady(target, `exec probe ${command} ${failure(error, stderr)}`, error)
  try {
    return JSON.parse(stdout)
  } catch (parseError) {
    throw notReady(target, `exec probe ${command} printed no JSON: ${excerpt(stdout)}`, parseError)
  }
}

function timedOut(): ExecFileException {
  return Object.assign(new Error('timed out'), { killed: true })
}

interface ExecOutcome {
  error: ExecFileException | null
  stdout: string
  stderr: string
}

function failure(
  error: Error & { code?: unknown; killed?: boolean; signal?: unknown },
  stderr: string,
): string {
  if (error.code === 'ENOENT') return 'could not be started: command not found'
  if (error.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return 'printed too much output'
  if (error.killed === true) return 'did not finish in time and was killed'
  const detail = stderr.trim() === '' ? '' : `: ${excerpt(stderr)}`
  if (typeof error.code === 'number') return `exited with code ${error.code}${detail}`
  return `failed (${error.message.split('\n')[0] ?? 'unknown error'})${detail}`
}

function excerpt(text: string): string {
  const line = text.trim().split('\n')[0] ?? ''
  return line === '' ? '(empty)' : line.length > 200 ? `${line.slice(0, 200)}…` : line
}
