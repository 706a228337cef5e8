import type { FastifyPluginAsync } from 'fastify'
import type { Kysely } from 'kysely'
import type { AuditLog } from '../../audit/audit-log.js'
import type { ChainReport } from '../../audit/verify-chain.js'
import type { Database } from '../../store/tables.js'
import { pageProperties, sendPage, timeRangeProperties } from '../paging.js'

const NULLABLE_STRING = { type: ['string', 'null'] }

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
  until?: string
  correlationId?: string
  action?: string
  actor?: string
  target?: string
  afterSeq?: number
  limit?: number
  cursor?: string
}

/** The most records one answer holds: an export reads the log in pages this large. */
const MAX_AUDIT_PAGE = 10_000

/** Reading the audit log (export pages through it with afterSeq) and checking its hash chain. */
export function auditRoutes(deps: {
  db: Kysely<Database>
  audit: Pick<AuditLog, 'page'>
  /** The chain checked against the checkpoints outside the store. */
  verify: () => Promise<ChainReport>
}): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: AuditQuerystring }>(
      '/v1/audit',
      {
        config: { action: 'audit.read' },
        schema: {
          summary:
            'Audit records in seq order (at most `limit`, default 10000; page on with `cursor`, or afterSeq)',
          tags: ['audit'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              ...timeRangeProperties('Records written'),
              correlationId: { type: 'string', maxLength: 200 },
              action: { type: 'string', maxLength: 200 },
              actor: { type: 'string', maxLength: 200 },
              target: {
                type: 'string',
                maxLength: 200,
                description: 'What was acted on: a key id, run id, …',
              },
              afterSeq: { type: 'integer', minimum: 0 },
              ...pageProperties(MAX_AUDIT_PAGE),
            },
          },
          response: { 200: { type: 'array', items: AUDIT_EVENT_SCHEMA } },
        },
      },
      // an export wants everything since a time: the default is the most one answer may hold
      async (request, reply) =>
        sendPage(request, reply, await deps.audit.page(deps.db, { limit: MAX_AUDIT_PAGE, ...request.query })),
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
