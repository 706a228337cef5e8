import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

/** A child process that answers one stdout line per stdin line (the Python helpers of the tests). */
export interface LineProcess {
  ask(line: string, timeoutMs?: number): Promise<string>
  stop(): Promise<void>
  /** What the process wrote on stderr, for failure messages. */
  stderr(): string
}

export function startLineProcess(command: string, args: readonly string[]): LineProcess {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let errors = ''
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()))
  const lines = createInterface({ input: child.stdout })
  const waiting: Array<(line: string) => void> = []
  lines.on('line', (line) => waiting.shift()?.(line))
  return {
    ask(line, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${command} did not answer in ${timeoutMs} ms: ${errors}`)),
          timeoutMs,
        )
        waiting.push((answer) => {
          clearTimeout(timer)
          resolve(answer)
        })
        child.stdin.write(`${line}\n`)
      })
    },
    stderr: () => errors,
    stop() {
      if (child.exitCode !== null) return Promise.resolve()
      return new Promise((resolve) => {
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      })
    },
  }
}
