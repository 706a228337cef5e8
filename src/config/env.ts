import { KeyrotorError } from '../errors.js'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export const DEFAULT_URL = 'http://127.0.0.1:8420'

/** What keyrotor takes from its environment. Only main.ts and the CLI entry read process.env. */
export interface Env {
  /** KEYROTOR_URL: the server the CLI talks to. */
  readonly url: string
  /** KEYROTOR_TOKEN: the CLI's bearer token. */
  readonly token: string | undefined
  /** KEYROTOR_MASTER_KEY: wraps the local keystore instead of the master key file in the data dir. */
  readonly masterKey: string | undefined
  /** KEYROTOR_LOG_LEVEL */
  readonly logLevel: LogLevel
  /** KEYROTOR_CRASH_POINT: fault tests only; makes the process exit at a named point. */
  readonly crashPoint: string | undefined
  /** KEYROTOR_CA_FILE: a PEM CA (or self-signed certificate) the CLI trusts for an https:// URL. */
  readonly caFile: string | undefined
}

/**
 * Reads and validates keyrotor's environment variables from the given record (process.env at
 * the edge, a literal in tests). Throws INVALID_CONFIG naming each bad variable; never echoes
 * a value, since some of them are secrets.
 *
 * Checked by hand rather than with a zod schema like the config file: every CLI command reads the
 * environment first, and importing zod (~100 ms) would be most of the CLI's start-up budget
 * (docs/benchmarks.md, CLI start). Six strings need no schema library.
 */
export function readEnv(env: Record<string, string | undefined>): Env {
  const problems: string[] = []
  const url = given(env.KEYROTOR_URL) ?? DEFAULT_URL
  if (!isHttpUrl(url)) {
    problems.push('KEYROTOR_URL: must be an http(s) URL such as http://127.0.0.1:8420')
  }
  const level = (given(env.KEYROTOR_LOG_LEVEL) ?? 'info').toLowerCase()
  if (!isLogLevel(level)) problems.push(`KEYROTOR_LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')}`)
  // the second test narrows `level` for the type checker; it adds no case the first misses
  if (problems.length > 0 || !isLogLevel(level)) {
    const lines = problems.map((problem) => `environment: ${problem}`)
    throw new KeyrotorError('INVALID_CONFIG', lines.join('\n'), { details: { problems: lines } })
  }
  return Object.freeze({
    url: url.replace(/\/+$/, ''),
    token: given(env.KEYROTOR_TOKEN),
    masterKey: given(env.KEYROTOR_MASTER_KEY),
    logLevel: level,
    crashPoint: given(env.KEYROTOR_CRASH_POINT),
    caFile: given(env.KEYROTOR_CA_FILE),
  })
}

// an exported-but-empty variable (`KEYROTOR_TOKEN= keyrotor …`) means "not set", as shells intend
function given(value: string | undefined): string | undefined {
  return value === '' ? undefined : value
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== ''
  } catch {
    return false
  }
}

function isLogLevel(text: string): text is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(text)
}
