import { spawn } from 'node:child_process'
import { DependentError } from '../dependent-sdk/types.js'

// Enough of a reload's output to see why it failed, never a flood into the log.
const MAX_OUTPUT = 4_000

export interface CommandResult {
  code: number | null
  signal: string | null
  output: string
  timedOut: boolean
}

/**
 * Runs `argv` without a shell (no quoting, no injection through a file name), in its own process
 * group so a timeout kills everything it started. Resolves with its exit and its output (stdout
 * and stderr together, cut to the first 4000 characters).
 */
export function runCommand(argv: readonly string[], timeoutMs: number): Promise<CommandResult> {
  const [program, ...args] = argv
  return new Promise((resolve) => {
    let output = ''
    let timedOut = false
    const child = spawn(program as string, args, {
      shell: false,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const collect = (chunk: Buffer) => {
      if (output.length < MAX_OUTPUT) output = (output + chunk.toString('utf8')).slice(0, MAX_OUTPUT)
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    const timer = setTimeout(() => {
      timedOut = true
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL')
        } catch {
          // already gone
        }
      }
    }, timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      resolve({ code: null, signal: null, output: `cannot run ${program}: ${error.message}`, timedOut })
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, output, timedOut })
    })
  })
}

/** Runs one hook; throws DependentError HOOK_FAILED saying which and why. */
export async function runHook(
  name: 'reload' | 'healthCheck',
  argv: readonly string[],
  timeoutMs: number,
  log: (result: CommandResult) => void,
): Promise<void> {
  const result = await runCommand(argv, timeoutMs)
  log(result)
  if (result.code === 0 && !result.timedOut) return
  const why = result.timedOut
    ? `did not finish within ${timeoutMs} ms`
    : result.code === null
      ? result.signal === null
        ? result.output
        : `was killed by ${result.signal}`
      : `exited ${result.code}`
  throw new DependentError('HOOK_FAILED', `${name} (${argv[0] ?? ''}) ${why}`)
}
