#!/usr/bin/env node
import { readEnv } from '../config/env.js'
import { importApp } from './app-entry.js'
import { EXIT, exitCodeForError } from './exit-codes.js'
import { isKeyrotorError } from '../errors.js'
import { runCli } from './program.js'
import type { CliContext } from './session.js'

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
    env: { url: env.url, token: env.token, masterKey: env.masterKey, logLevel: env.logLevel },
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
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
