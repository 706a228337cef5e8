import { pino, type DestinationStream, type Logger as PinoLogger, type LevelWithSilent } from 'pino'

/** The logger every component receives: pino, writing one JSON object per line. */
export type Logger = PinoLogger

/**
 * Fields that may carry a secret wherever they appear (top level or one object down, plus the
 * request headers Fastify logs). `k` and `d` are the JWK members of symmetric and private key
 * material. Redaction is the last line of defence: code should not log these in the first place.
 */
export const REDACTED_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  ...['authorization', 'token', 'adminToken', 'secret', 'material', 'password', 'k', 'd'].flatMap((field) => [
    field,
    `*.${field}`,
  ]),
]

export interface LoggerOptions {
  level: LevelWithSilent
  /**
   * Where lines go: a file path (`--log-file`, created with its directories) or a stream (tests
   * capture lines this way). Standard output when omitted.
   */
  destination?: string | DestinationStream
}

/** Context a child logger carries, so every line of one run or request can be found again. */
export interface LogContext {
  correlationId?: string | undefined
  runId?: string | undefined
  key?: string | undefined
  phase?: string | undefined
  actor?: string | undefined
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      // ISO-8601 UTC, so lines from several instances sort and correlate without parsing epochs
      timestamp: pino.stdTimeFunctions.isoTime,
      // labels ("info") rather than pino's numbers: operators grep these files by hand
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
      base: undefined,
    },
    destinationOf(options.destination),
  )
}

/** A child logger with the given context; undefined members are left out rather than logged as null. */
export function withContext(logger: Logger, context: LogContext): Logger {
  const bindings = Object.fromEntries(Object.entries(context).filter(([, value]) => value !== undefined))
  return logger.child(bindings)
}

function destinationOf(destination: LoggerOptions['destination']): DestinationStream {
  if (destination === undefined) return pino.destination({ dest: 1, sync: true })
  if (typeof destination !== 'string') return destination
  // synchronous writes: the lines before a crash are the ones an incident review needs
  return pino.destination({ dest: destination, sync: true, mkdir: true })
}
