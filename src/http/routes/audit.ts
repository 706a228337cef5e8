import type { FastifyPluginAsync } from 'fastify'
import type { Kysely } from 'kysely'
import type { AuditLog } from '../../audit/audit-log.js'
import type { ChainReport } from '../../audit/verify-chain.js'
import type { Database } from '../../store/tables.js'

const NULLABLE_STRING = { type: ['string', 'null'] }
// a date, or a date and time with an optional zone: ISO 8601, not whatever Date.parse takes
const ISO_8601 = '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})?)?$'

const AUDIT_EVENT_SCHEMA = {
  type: 'object',
  required: [
    'seq',
    'at',
    'actor',
    'action',
    'target',
    'correlationId',
    'reason',
    'details',
    'prevHash',
    'hash',
  ],
  properties: {
    seq: { type: 'integer' },
    at: { type: 'string' },
    actor: { type: 'string' },
    action: { type: 'string' },
    target: NULLABLE_STRING,
    correlationId: NULLABLE_STRING,
    reason: NULLABLE_STRING,
    details: { type: ['object', 'null'], additionalProperties: true },
    prevHash: NULLABLE_STRING,
    hash: NULLABLE_STRING,
  },
}

const REPORT_SCHEMA = {
  type: 'object',
  required: ['valid', 'checked'],
  properties: {
    valid: { type: 'boolean' },
    checked: { type: 'integer' },
    brokenAt: {
      type: 'object',
      required: ['seq', 'reason'],
      properties: { seq: { type: 'integer' }, reason: { type: 'string' } },
    },
    checkpoint: {
      type: 'object',
      required: ['seq', 'headHash', 'at'],
      properties: { seq: { type: 'integer' }, headHash: { type: 'string' }, at: { type: 'string' } },
    },
    warnings: { type: 'array', items: { type: 'string' } },
  },
}

interface AuditQuerystring {
  since?: string
  correlationId?: string
  afterSeq?: number
  limit?: number
}

/** Reading the audit log (export pages through it with afterSeq) and checking its hash chain. */
export function auditRoutes(deps: {
  db: Kysely<Database>
  audit: Pick<AuditLog, 'list'>
  /** The chain checked against the checkpoints outside the store. */
  verify: () => Promise<ChainReport>
}): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: AuditQuerystring }>(
      '/v1/audit',
      {
        config: { action: 'audit.read' },
        schema: {
          summary: 'Audit records in seq order (at most `limit`, default 10000; page on with afterSeq)',
          tags: ['audit'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              since: { type: 'string', maxLength: 64, pattern: ISO_8601 },
              correlationId: { type: 'string', maxLength: 200 },
              afterSeq: { type: 'integer', minimum: 0 },
              limit: { type: 'integer', minimum: 1, maximum: 10_000 },
            },
          },
          response: { 200: { type: 'array', items: AUDIT_EVENT_SCHEMA } },
        },
      },
      // an export wants everything since a time: the default is the most one answer may hold
      async (request) => deps.audit.list(deps.db, { limit: 10_000, ...request.query }),
    )

    app.get(
      '/v1/audit/verify',
      {
        config: { action: 'audit.read' },
        schema: {
          summary: 'Check the audit hash chain end to end and against the latest checkpoint',
          tags: ['audit'],
          response: { 200: REPORT_SCHEMA },
        },
      },
      async () => deps.verify(),
    )
  }
}
