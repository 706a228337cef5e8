import { z } from 'zod'
import { KeyrotorError } from '../errors.js'
import { formatPath } from './config-problems.js'

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

// an exported-but-empty variable (`KEYROTOR_TOKEN= keyrotor …`) means "not set", as shells intend
const optional = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional())

const envSchema = z.object({
  KEYROTOR_URL: z.preprocess(
    (v) => (v === '' || v === undefined ? DEFAULT_URL : v),
    z.url({ protocol: /^https?$/, message: 'must be an http(s) URL such as http://127.0.0.1:8420' }),
  ),
  KEYROTOR_TOKEN: optional,
  KEYROTOR_MASTER_KEY: optional,
  KEYROTOR_LOG_LEVEL: z.preprocess(
    (v) => (v === '' || v === undefined ? 'info' : typeof v === 'string' ? v.toLowerCase() : v),
    z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }),
  ),
  KEYROTOR_CRASH_POINT: optional,
  KEYROTOR_CA_FILE: optional,
})

/**
 * Reads and validates keyrotor's environment variables from the given record (process.env at
 * the edge, a literal in tests). Throws INVALID_CONFIG naming each bad variable; never echoes
 * a value, since some of them are secrets.
 */
export function readEnv(env: Record<string, string | undefined>): Env {
  const result = envSchema.safeParse(env)
  if (!result.success) {
    const lines = result.error.issues.map((i) => `environment: ${formatPath(i.path)}: ${i.message}`)
    throw new KeyrotorError('INVALID_CONFIG', lines.join('\n'), { details: { problems: lines } })
  }
  const e = result.data
  return Object.freeze({
    url: e.KEYROTOR_URL.replace(/\/+$/, ''),
    token: e.KEYROTOR_TOKEN,
    masterKey: e.KEYROTOR_MASTER_KEY,
    logLevel: e.KEYROTOR_LOG_LEVEL,
    crashPoint: e.KEYROTOR_CRASH_POINT,
    caFile: e.KEYROTOR_CA_FILE,
  })
}
