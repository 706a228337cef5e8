import { readFileSync } from 'node:fs'
import { InvalidArgumentError, Option } from 'commander'
import type { Command } from 'commander'
import { KeyrotorError, isKeyrotorError } from '../errors.js'
import { parseDuration } from '../domain/duration.js'
import type { LogLevel } from '../config/env.js'
import type { AppEntry } from './app-entry.js'
import { EXIT, exitCodeForError } from './exit-codes.js'
import { createKeyrotorClient, type KeyrotorClient } from '../client/keyrotor-client.js'
import { createOutput } from './output.js'
import type { Output, Streams } from './output.js'

/** Everything a command may touch outside itself; main.ts builds the real one, tests their own. */
export interface CliContext extends Streams {
  env: {
    url: string
    token: string | undefined
    masterKey: string | undefined
    logLevel: LogLevel | undefined
    /** KEYROTOR_CA_FILE; `--ca-file` overrides. */
    caFile?: string | undefined
  }
  /** Looks up a webhook secret by its environment variable name (server only). */
  secretOf: (name: string) => string | undefined
  /** The environment provider instances see (a PIN by `pinEnv`, what an exec hook inherits). */
  providerEnv?: Readonly<Record<string, string | undefined>>
  fetch?: typeof fetch
  /** Calls `handler` on SIGINT/SIGTERM until the returned function is called. */
  onInterrupt: (handler: () => void) => () => void
  importApp: () => Promise<AppEntry>
  /** How often `--wait` polls the run's events. */
  pollIntervalMs: number
}

export interface Session {
  ctx: CliContext
  out: Output
  /** The command's own options (the common ones included). */
  opts: Record<string, unknown>
  api: () => KeyrotorClient
}

export type ActionFn = (session: Session, args: string[]) => Promise<number | void>
/** Wraps an ActionFn as a commander action; the resulting exit code lands in `result.code`. */
export type Act = (fn: ActionFn) => (...params: unknown[]) => Promise<void>

export function createAct(ctx: CliContext, result: { code: number }): Act {
  return (fn) =>
    async (...params) => {
      const command = params[params.length - 1] as Command
      const opts = command.opts()
      const out = createOutput(opts.json === true, ctx)
      let client: KeyrotorClient | undefined
      const session: Session = {
        ctx,
        out,
        opts,
        api: () =>
          (client ??= createKeyrotorClient({
            url: typeof opts.url === 'string' ? opts.url : ctx.env.url,
            token: typeof opts.token === 'string' ? opts.token : ctx.env.token,
            ca: readCa(str(opts, 'caFile') ?? ctx.env.caFile),
            fetch: ctx.fetch,
          })),
      }
      try {
        result.code = (await fn(session, command.processedArgs as string[])) ?? EXIT.ok
      } catch (error) {
        result.code = reportError(out, error)
      }
    }
}

/** `keyrotor: <detail> (code CODE, correlation id X)` on stderr; the error document under --json. */
export function reportError(out: Output, error: unknown): number {
  const known = isKeyrotorError(error)
    ? error
    : new KeyrotorError('INTERNAL', error instanceof Error ? error.message : String(error))
  const correlationId = typeof known.details?.correlationId === 'string' ? known.details.correlationId : null
  const where = correlationId === null ? '' : `, correlation id ${correlationId}`
  out.note(`keyrotor: ${known.message} (code ${known.code}${where})`)
  if (out.json && !out.emittedJson) {
    out.emit({ error: { code: known.code, message: known.message, correlationId } }, () => [])
  }
  return exitCodeForError(known.code)
}

/** A subcommand with the options every command takes (CONTRACT.md "CLI"). */
export function leaf(parent: Command, nameAndArgs: string, description: string): Command {
  return parent
    .command(nameAndArgs)
    .description(description)
    .option('--json', 'print exactly one JSON document on stdout')
    .option('--url <url>', 'keyrotor server URL (default: KEYROTOR_URL or http://127.0.0.1:8420)')
    .option('--token <token>', 'API token (default: KEYROTOR_TOKEN)')
    .option('--ca-file <file>', 'PEM CA to trust for an https:// server (default: KEYROTOR_CA_FILE)')
}

/** A --timeout style option; a bad value is a usage error naming the option (exit 2). */
export function durationOption(flags: string, description: string): Option {
  return new Option(flags, description).argParser((value: string) => {
    try {
      return parseDuration(value)
    } catch (error) {
      throw new InvalidArgumentError(error instanceof Error ? error.message : String(error))
    }
  })
}

export function integerOption(
  flags: string,
  description: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): Option {
  return new Option(flags, description).argParser((value: string) => {
    const parsed = Number(value)
    if (!/^\d+$/.test(value) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`"${value}" must be a whole number from ${min} to ${max}`)
    }
    return parsed
  })
}

/** The CA file's PEM; a file that cannot be read is bad usage naming the file (exit 2). */
function readCa(file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined
  try {
    return readFileSync(file)
  } catch (error) {
    throw new KeyrotorError('BAD_REQUEST', `--ca-file: cannot read ${file}: ${(error as Error).message}`)
  }
}

export function str(opts: Record<string, unknown>, name: string): string | undefined {
  const value = opts[name]
  return typeof value === 'string' ? value : undefined
}
