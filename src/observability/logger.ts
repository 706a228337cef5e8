import { pino, type DestinationStream, type Logger as PinoLogger, type LevelWithSilent } from 'pino'
import { openLogFile, type LogFileEvents } from './log-file.js'

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
  /** Told when lines to a file destination are dropped (full disk) and when writing resumes. */
  logFileEvents?: LogFileEvents | undefined
  /**
   * Also told every line written (after redaction), e.g. the timeline's log buffer. It must not
   * throw and must be quick: it runs on the logging call's stack.
   */
  tap?: ((line: string) => void) | undefined
  /** Fields added to every line, e.g. trace_id and span_id of the active span. */
  mixin?: (() => object) | undefined
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
      ...(options.mixin === undefined ? {} : { mixin: options.mixin }),
    },
    withTap(destinationOf(options.destination, options.logFileEvents), options.tap),
  )
}

/** A child logger with the given context; undefined members are left out rather than logged as null. */
export function withContext(logger: Logger, context: LogContext): Logger {
  const bindings = Object.fromEntries(Object.entries(context).filter(([, value]) => value !== undefined))
  return logger.child(bindings)
}

/**
 * A multistream rather than a wrapper object, so pino still flushes the real destination
 * (`logger.flush()`, the synchronous flush on exit). Both streams take every level: the logger's
 * own level has filtered already.
 */
function withTap(destination: DestinationStream, tap: LoggerOptions['tap']): DestinationStream {
  if (tap === undefined) return destination
  const tapStream: DestinationStream = {
    write(line: string) {
      try {
        tap(line)
      } catch {
        // a failing observer never costs the line its real destination
      }
    },
  }
  return pino.multistream([
    { level: 'trace', stream: destination },
    { level: 'trace', stream: tapStream },
  ])
}

function destinationOf(destination: LoggerOptions['destination'], events?: LogFileEvents): DestinationStream {
  if (destination === undefined) return pino.destination({ dest: 1, sync: true })
  if (typeof destination !== 'string') return destination
  return openLogFile(destination, events ?? { dropped: () => undefined, recovered: () => undefined })
}
