import { spawn } from 'node:child_process'
import { KeyrotorError } from '../../errors.js'

/** One answer is a small JSON document; more than this is a misbehaving hook. */
export const MAX_ANSWER_BYTES = 1024 * 1024
/** sysexits.h EX_TEMPFAIL: the hook says "try again later". */
export const EX_TEMPFAIL = 75
/** The detail of a failed hook is its last stderr line, cut to this. */
const MAX_DETAIL_CHARS = 500
/** Only the tail of stderr matters (its last line); keep a bounded window of it. */
const STDERR_TAIL_BYTES = 8 * 1024

export interface HookCall {
  command: readonly string[]
  operation: string
  request: Record<string, unknown>
  timeoutMs: number
  env: Record<string, string>
}

/** What the process did: its exit code and stdout (under the cap), or why it has none. */
export type HookOutcome = { code: number; stdout: string; stderrLine: string }

/**
 * Runs `command… OPERATION` with one JSON request on stdin (then closed) and collects its stdout.
 * The hook leads its own process group, so a timeout kills everything it started (a shell's
 * children too), not just the first process. Timeout and a hook that cannot start are
 * PROVIDER_TRANSIENT; an answer past 1 MiB is PROVIDER_ERROR. Never throws for an exit code: the
 * caller reads the answer.
 */
export function runHook(call: HookCall): Promise<HookOutcome> {
  const [program, ...args] = call.command
  const what = `exec provider ${call.operation}`
  return new Promise((resolve, reject) => {
    const child = spawn(program as string, [...args, call.operation], {
      detached: true,
      env: call.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    })
    const stdout: Buffer[] = []
    let stdoutBytes = 0
    let stderrTail = ''
    let failure: KeyrotorError | undefined
    const killGroup = (why: KeyrotorError) => {
      failure ??= why
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
      } catch {
        // the group is already gone
      }
    }
    const timer = setTimeout(
      () =>
        killGroup(
          new KeyrotorError(
            'PROVIDER_TRANSIENT',
            `${what}: the hook did not answer within ${call.timeoutMs} ms; its process group was killed`,
            { retryable: true },
          ),
        ),
      call.timeoutMs,
    )
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length
      if (stdoutBytes > MAX_ANSWER_BYTES) {
        killGroup(new KeyrotorError('PROVIDER_ERROR', `${what}: the hook printed more than 1 MiB`))
        return
      }
      stdout.push(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES)
    })
    child.stdin.on('error', () => {
      // a hook that exits without reading its request closes the pipe: its exit code tells the rest
    })
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      const why = error.code === 'ENOENT' ? 'command not found' : (error.code ?? error.message)
      reject(
        new KeyrotorError('PROVIDER_TRANSIENT', `${what}: could not start ${String(program)}: ${why}`, {
          retryable: true,
          cause: error,
        }),
      )
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (failure !== undefined) return reject(failure)
      resolve({
        code: code ?? (signal === null ? -1 : 128),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderrLine: lastLine(stderrTail),
      })
    })
    child.stdin.end(JSON.stringify(call.request))
  })
}

function lastLine(text: string): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '')
  const line = (lines.at(-1) ?? '').trim()
  return line.length > MAX_DETAIL_CHARS ? line.slice(0, MAX_DETAIL_CHARS) : line
}
