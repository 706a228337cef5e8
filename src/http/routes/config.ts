import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { IdParams, problems } from '../schemas/common.js'
import {
  ApproveProposalBody,
  ConfigProposal,
  ConfigStatus,
  ConfigVersion,
  ConfigVersionParams,
  ProposalsQuery,
  ProposeBody,
  VersionsQuery,
} from '../schemas/governance.js'
import type { Kysely } from 'kysely'
import { activeConfigVersion, type BootstrapOutcome } from '../../config-changes/bootstrap.js'
import type { ConfigChanges } from '../../config-changes/config-changes.js'
import type { Database } from '../../store/tables.js'
import { principalOf } from '../auth.js'
import { sendPage } from '../paging.js'

export interface ConfigRoutesDeps {
  db: Kysely<Database>
  /** What the server found when it compared its --config file with the active version at start. */
  fileStatus: BootstrapOutcome
  changes: Pick<ConfigChanges, 'propose' | 'approve' | 'apply' | 'get' | 'list' | 'versions' | 'version'>
}

/**
 * The active configuration and its change management: propose (admin), approve (a second admin
 * or security), apply (admin), history. The --config file of a running server is only compared.
 */
export function configRoutes(deps: ConfigRoutesDeps): FastifyPluginAsync {
  const { changes } = deps
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>()
    app.get(
      '/v1/config',
      {
        config: { action: 'config.read' },
        schema: {
          summary: 'The active config version and file drift',
          tags: ['config'],
          operationId: 'getConfig',
          response: { 200: ConfigStatus },
        },
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
                  status: 'differs' as const,
                  fileHash: s.fileHash,
                  note: 'the --config file is not applied; propose it as a change',
                }
              : { status: s.status },
        }
      },
    )

    app.get(
      '/v1/config/versions',
      {
        config: { action: 'config.read' },
        schema: {
          summary:
            'Config versions, oldest first, with who proposed, approved and applied each: all, or one page with `limit` and `cursor`',
          tags: ['config'],
          operationId: 'listConfigVersions',
          querystring: VersionsQuery,
          response: { 200: z.array(ConfigVersion), ...problems(400) },
        },
      },
      async (request, reply) => sendPage(request, reply, await changes.versions(request.query)),
    )

    app.get(
      '/v1/config/versions/:version',
      {
        config: { action: 'config.read' },
        schema: {
          summary: 'One config version with its YAML',
          tags: ['config'],
          operationId: 'getConfigVersion',
          params: ConfigVersionParams,
          response: { 200: ConfigVersion, ...problems(400, 404) },
        },
      },
      async (request) => changes.version(request.params.version),
    )

    app.get(
      '/v1/config/proposals',
      {
        config: { action: 'config.read' },
        schema: {
          summary: 'Config proposals, newest first: all, or one page with `limit` and `cursor`',
          tags: ['config'],
          operationId: 'listConfigProposals',
          querystring: ProposalsQuery,
          response: { 200: z.array(ConfigProposal), ...problems(400) },
        },
      },
      async (request, reply) => sendPage(request, reply, await changes.list(request.query)),
    )

    app.get(
      '/v1/config/proposals/:id',
      {
        config: { action: 'config.read' },
        schema: {
          summary: 'One proposal with its YAML and diff',
          tags: ['config'],
          operationId: 'getConfigProposal',
          params: IdParams,
          response: { 200: ConfigProposal, ...problems(400, 404) },
        },
      },
      async (request) => changes.get(request.params.id),
    )

    app.post(
      '/v1/config/proposals',
      {
        config: { action: 'config.propose' },
        schema: {
          summary:
            'Propose a config change (YAML, or fromVersion to roll back); 400 INVALID_CONFIG names the path',
          tags: ['config'],
          operationId: 'proposeConfig',
          body: ProposeBody,
          response: { 201: ConfigProposal, ...problems(400, 404, 409) },
        },
      },
      async (request, reply) => {
        const proposal = await changes.propose(principalOf(request), request.body, request.correlationId)
        return reply.code(201).send(proposal)
      },
    )

    app.post(
      '/v1/config/proposals/:id/approve',
      {
        config: { action: 'approvals.decide' },
        schema: {
          summary:
            "Approve a proposal's approval (an admin or security person; 403 SELF_APPROVAL for the proposer)",
          tags: ['config'],
          operationId: 'approveConfigProposal',
          params: IdParams,
          body: ApproveProposalBody,
          response: { 200: ConfigProposal, ...problems(400, 404, 409) },
        },
      },
      async (request) => changes.approve(request.params.id, principalOf(request), request.body?.reason),
    )

    app.post(
      '/v1/config/proposals/:id/apply',
      {
        config: { action: 'config.apply' },
        schema: {
          summary:
            'Apply an approved proposal as the next version; 409 CONFLICT when not approved, stale or a run is in progress; 422 outside the change window',
          tags: ['config'],
          operationId: 'applyConfigProposal',
          params: IdParams,
          response: { 200: ConfigProposal, ...problems(400, 404, 409, 422, 423) },
        },
      },
      async (request) => changes.apply(request.params.id, principalOf(request), request.correlationId),
    )
  }
}
