import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { problems } from '../schemas/common.js'
import { AuditChainReport, AuditEvent, AuditQuery } from '../schemas/observability.js'
import type { Kysely } from 'kysely'
import type { AuditLog } from '../../audit/audit-log.js'
import type { ChainReport } from '../../audit/verify-chain.js'
import type { Database } from '../../store/tables.js'

/** Reading the audit log (export pages through it with afterSeq) and checking its hash chain. */
export function auditRoutes(deps: {
  db: Kysely<Database>
  audit: Pick<AuditLog, 'list'>
  /** The chain checked against the checkpoints outside the store. */
  verify: () => Promise<ChainReport>
}): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>()
    app.get(
      '/v1/audit',
      {
        config: { action: 'audit.read' },
        schema: {
          summary: 'Audit records in seq order (at most `limit`, default 10000; page on with afterSeq)',
          tags: ['audit'],
          operationId: 'listAudit',
          querystring: AuditQuery,
          response: { 200: z.array(AuditEvent), ...problems(400) },
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
          operationId: 'verifyAudit',
          response: { 200: AuditChainReport },
        },
      },
      async () => deps.verify(),
    )
  }
}
