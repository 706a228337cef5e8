import { createLogBuffer, type LogBuffer } from '../observability/log-buffer.js'
import { logFileHealth } from '../observability/log-file.js'
import { createLogger, type Logger } from '../observability/logger.js'
import { createMetrics, type Metrics } from '../observability/metrics.js'
import { createReadiness, type Readiness } from '../observability/readiness.js'
import type { Tracing } from '../observability/tracing.js'
import type { StartOptions } from './start-options.js'

export interface Telemetry {
  /** The lines this process logs under a correlation id, for the timeline. */
  logBuffer: LogBuffer
  metrics: Metrics
  readiness: Readiness
  logger: Logger
  /** From now on, every line logged inside a span carries its trace_id/span_id. */
  traceLogsWith(tracing: Tracing): void
}

/** The logger, metrics and readiness: built first, so everything after them can log and count. */
export function createTelemetry(options: StartOptions): Telemetry {
  const logBuffer = createLogBuffer()
  // tracing starts later (after the store opens); until it is on, lines carry no trace fields
  let traceFields: () => object = () => ({})
  const metrics = createMetrics()
  const readiness = createReadiness()
  const logger = createLogger({
    level: options.logLevel ?? 'info',
    tap: (line) => logBuffer.tap(line),
    mixin: () => traceFields(),
    logFileEvents: logFileHealth(metrics, readiness),
    ...(options.logDestination !== undefined
      ? { destination: options.logDestination }
      : options.logFile !== undefined
        ? { destination: options.logFile }
        : {}),
  })
  return {
    logBuffer,
    metrics,
    readiness,
    logger,
    traceLogsWith(tracing) {
      if (tracing.enabled) traceFields = () => tracing.logFields()
    },
  }
}
