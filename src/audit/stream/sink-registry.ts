import type { AuditSinkConfig } from '../../config/schema.js'
import type { AuditSink, AuditSinkContext } from './audit-sink.js'
import { createFileAuditSink } from './file-sink.js'
import { createHttpAuditSink } from './http-sink.js'
import { createSyslogSink } from './syslog-sink.js'

/** Exhaustive over the config's sink types: one without an implementation does not compile. */
export function createAuditSink(config: AuditSinkConfig, context: AuditSinkContext): AuditSink {
  switch (config.type) {
    case 'syslog':
      return createSyslogSink(config, context)
    case 'http':
      return createHttpAuditSink(config, context)
    case 'file':
      return createFileAuditSink(config)
  }
}
