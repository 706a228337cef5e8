import type { FastifyPluginAsync } from 'fastify'
import type { Kysely } from 'kysely'
import { activeConfigVersion, type BootstrapOutcome } from '../../governance/config-bootstrap.js'
import type { Database } from '../../store/tables.js'

export interface ConfigRoutesDeps {
  db: Kysely<Database>
  /** What the server found when it compared its --config file with the active version at start. */
  fileStatus: BootstrapOutcome
}

/** The active configuration version, and whether the server's config file differs from it. */
export function configRoutes(deps: ConfigRoutesDeps): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/v1/config',
      {
        config: { action: 'config.read' },
        schema: { summary: 'The active config version and file drift', tags: ['config'] },
      },
      async () => {
        const active = await activeConfigVersion(deps)
        const s = deps.fileStatus
        return {
          activeVersion: active?.version ?? null,
          hash: active?.hash ?? null,
          createdAt: active?.createdAt ?? null,
          createdBy: active?.createdBy ?? null,
          file:
            s.status === 'differs'
              ? {
                  status: 'differs',
                  fileHash: s.fileHash,
                  note: 'the --config file is not applied; propose it as a change',
                }
              : { status: s.status },
        }
      },
    )
  }
}
