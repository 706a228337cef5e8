#!/usr/bin/env node
import { readEnv } from '../config/env.js'
import { importApp } from './app-entry.js'
import { EXIT, exitCodeForError } from './exit-codes.js'
import { isKeyrotorError } from '../errors.js'
import { runCli } from './program.js'
import type { CliContext } from './session.js'

/**
 * A reader that closes the pipe early (`keyrotor runs show X | head -1`) is not an error: the rest
 * of the output is dropped and the command ends with its own exit code, without a stack trace.
 */
function writerTo(stream: NodeJS.WriteStream): (text: string) => void {
  let closed = false
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
    closed = true
  })
  return (text) => {
    if (!closed) stream.write(text)
  }
}

/** The CLI's edge: the only place that reads process.env, argv and signals. */
async function main(): Promise<number> {
  let env
  try {
    env = readEnv(process.env)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`keyrotor: ${message}\n`)
    if (process.argv.includes('--json')) {
      process.stdout.write(
        `${JSON.stringify({ error: { code: 'INVALID_CONFIG', message, correlationId: null } })}\n`,
      )
    }
    return isKeyrotorError(error) ? exitCodeForError(error.code) : EXIT.badInput
  }
  const ctx: CliContext = {
    env: {
      url: env.url,
      token: env.token,
      masterKey: env.masterKey,
      logLevel: env.logLevel,
      caFile: env.caFile,
    },
    stdout: writerTo(process.stdout),
    stderr: writerTo(process.stderr),
    onInterrupt(handler) {
      process.on('SIGINT', handler)
      process.on('SIGTERM', handler)
      return () => {
        process.off('SIGINT', handler)
        process.off('SIGTERM', handler)
      }
    },
    secretOf: (name) => process.env[name],
    providerEnv: process.env,
    importApp,
    pollIntervalMs: 250,
  }
  return runCli(process.argv.slice(2), ctx)
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(
      `keyrotor: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    process.exitCode = EXIT.runFailed
  },
)
