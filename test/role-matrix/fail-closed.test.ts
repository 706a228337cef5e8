import type { FastifyPluginAsync } from 'fastify'
import { describe, expect, it } from 'vitest'
import { createAuditLog } from '../../src/audit/audit-log.js'
import { ROLES } from '../../src/domain/roles.js'
import { createTokenStore } from '../../src/governance/tokens.js'
import { createHttpApp } from '../../src/http/app.js'
import { createHaltReader } from '../../src/http/routes/halt.js'
import { storeAnswers } from '../../src/http/routes/health.js'
import { createAlertService } from '../../src/observability/alerts.js'
import { createLogger } from '../../src/observability/logger.js'
import { createMetrics } from '../../src/observability/metrics.js'
import { createTestStore } from '../helpers/stores.js'
import type { Problem } from './table.js'

describe('fail closed', () => {
  it('refuses a route registered without an action to every role and to no token, and audits it', async () => {
    const store = await createTestStore('sqlite')
    const undeclared: FastifyPluginAsync = async (app) => {
      app.get('/v1/forgotten', async () => ({ leaked: true }))
      app.post('/v1/forgotten', async () => ({ leaked: true }))
    }
    const app = createHttpApp({
      logger: createLogger({ level: 'silent' }),
      db: store.db,
      tokenStore: (db) => createTokenStore(db),
      audit: createAuditLog(),
      alerts: createAlertService({ db: store.db }),
      halt: createHaltReader(store.db),
      metrics: createMetrics({ defaultMetrics: false }),
      ready: storeAnswers(store.db),
      routes: [undeclared],
    })
    try {
      await store.db
        .insertInto('keys')
        .values({
          id: 'k',
          provider: 'local',
          algorithm: 'aes-256-gcm',
          owner: 'o',
          policy: '{}',
          created_at: '2026-01-01T00:00:00.000Z',
          updated_at: '2026-01-01T00:00:00.000Z',
        })
        .execute()
      const tokenStore = createTokenStore(store.db)
      const answers: string[] = []
      for (const role of [...ROLES, null]) {
        const token =
          role === null
            ? undefined
            : (
                await tokenStore.create({
                  user: `${role}-user`,
                  role,
                  keyId: role === 'consumer' ? 'k' : undefined,
                  createdBy: 'test',
                })
              ).token
        for (const method of ['GET', 'POST'] as const) {
          const response = await app.inject({
            method,
            url: '/v1/forgotten',
            headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
          })
          answers.push(
            `${method} ${role ?? 'anonymous'} ${response.statusCode} ${response.json<Problem>().code}`,
          )
          expect(response.body).not.toContain('leaked')
        }
      }
      expect(answers).toEqual(
        [...ROLES, 'anonymous'].flatMap((r) => [`GET ${r} 403 FORBIDDEN`, `POST ${r} 403 FORBIDDEN`]),
      )
      const denials = await store.db
        .selectFrom('audit_events')
        .select('target')
        .where('action', '=', 'auth.denied')
        .execute()
      expect(denials).toHaveLength(answers.length)
      const doc = (await app.inject({ url: '/openapi.json' })).json<{
        paths: Record<string, Record<string, Record<string, unknown>>>
      }>()
      expect(doc.paths['/v1/forgotten']?.get?.['x-keyrotor-action']).toBeNull()
    } finally {
      await app.close()
      await store.dispose()
    }
  })
})
