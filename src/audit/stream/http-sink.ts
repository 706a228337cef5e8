import { signedHeaders } from '../../dependents/signature.js'
import type { AuditSinkConfig } from '../../config/schema.js'
import { auditSinkId, recordLine, type AuditSink, type AuditSinkContext } from './audit-sink.js'

type HttpConfig = Extract<AuditSinkConfig, { type: 'http' }>

/**
 * POSTs batches of records as JSON lines (`application/x-ndjson`), signed like every keyrotor
 * webhook (X-Keyrotor-Timestamp, X-Keyrotor-Signature) when `secretEnv` names a secret. Any 2xx
 * is delivery of the whole batch; anything else is retried with the same records.
 */
export function createHttpAuditSink(config: HttpConfig, context: AuditSinkContext): AuditSink {
  return {
    id: auditSinkId(config),
    type: 'http',
    async send(records) {
      const body = records.map((r) => `${recordLine(r)}\n`).join('')
      const secret = config.secretEnv === undefined ? undefined : context.secretOf(config.secretEnv)
      if (config.secretEnv !== undefined && secret === undefined) {
        throw new Error(`the secret variable ${config.secretEnv} is not set`)
      }
      const response = await fetch(config.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-ndjson',
          ...(secret === undefined ? {} : signedHeaders(secret, body)),
        },
        body,
        signal: AbortSignal.timeout(context.timeoutMs),
      })
      const answer = await response.text().catch(() => '')
      if (!response.ok) throw new Error(`HTTP ${response.status}: ${answer.slice(0, 200)}`)
    },
    async close() {},
  }
}
