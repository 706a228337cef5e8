import type { FastifyPluginAsync } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from '../../store/tables.js'

/** The global halt as CONTRACT.md shows it. */
export interface HaltStatus {
  engaged: boolean
  reason: string | null
  by: string | null
  since: string | null
}

/** Reads the halt switch; the engine's halt service can stand in for it once it exists. */
export interface HaltReader {
  read(): Promise<HaltStatus>
}

/** A HaltReader over the single-row `halt` table (the migration seeds row 1). */
export function createHaltReader(db: Kysely<Database>): HaltReader {
  return {
    async read() {
      const row = await db.selectFrom('halt').selectAll().where('id', '=', 1).executeTakeFirst()
      if (row === undefined) return { engaged: false, reason: null, by: null, since: null }
      return { engaged: Number(row.engaged) === 1, reason: row.reason, by: row.engaged_by, since: row.since }
    },
  }
}

export const HALT_SCHEMA = {
  type: 'object',
  required: ['engaged', 'reason', 'by', 'since'],
  properties: {
    engaged: { type: 'boolean' },
    reason: { type: ['string', 'null'] },
    by: { type: ['string', 'null'] },
    since: { type: ['string', 'null'], format: 'date-time' },
  },
}

/** `GET /v1/halt`. Engaging and releasing come with the approvals work (a later issue). */
export function haltRoutes(deps: { halt: HaltReader }): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/v1/halt',
      {
        config: { action: 'halt.read' },
        schema: {
          summary: 'Whether the global halt is engaged',
          tags: ['halt'],
          response: { 200: HALT_SCHEMA },
        },
      },
      async () => deps.halt.read(),
    )
  }
}
