import type { FastifyPluginAsync } from 'fastify'
import type { Kysely } from 'kysely'
import { activeConfigVersion, type BootstrapOutcome } from '../../governance/config-bootstrap.js'
import type { ConfigChanges } from '../../governance/config-changes.js'
import {
  PROPOSAL_STATES,
  type ProposalListQuery,
  type VersionListQuery,
} from '../../governance/config-proposals.js'
import type { Database } from '../../store/tables.js'
import { principalOf } from '../auth.js'
import { pageProperties, sendPage, timeRangeProperties } from '../paging.js'

export interface ConfigRoutesDeps {
  db: Kysely<Database>
  /** What the server found when it compared its --config file with the active version at start. */
  fileStatus: BootstrapOutcome
  changes: Pick<ConfigChanges, 'propose' | 'approve' | 'apply' | 'get' | 'list' | 'versions' | 'version'>
}

const S = { type: 'string' }
const NS = { type: ['string', 'null'] }
const NI = { type: ['integer', 'null'] }
const TEXT = { type: 'string', minLength: 1, maxLength: 4000 }

const PROPOSAL = {
  type: 'object',
  required: ['id', 'state', 'summary', 'rollbackPlan', 'hash', 'baseVersion', 'proposedBy', 'createdAt'],
  properties: {
    id: S,
    state: { type: 'string', enum: [...PROPOSAL_STATES] },
    summary: S,
    rollbackPlan: S,
    hash: S,
    baseVersion: { type: 'integer' },
    proposedBy: S,
    createdAt: S,
    approvalId: S,
    approvedBy: NS,
    approvedAt: NS,
    appliedBy: NS,
    appliedAt: NS,
    appliedVersion: NI,
    decidedAt: NS,
    diff: S,
    yaml: S,
    changes: { type: 'object', additionalProperties: true },
  },
}

const VERSION = {
  type: 'object',
  required: ['version', 'hash', 'active', 'source', 'appliedBy', 'appliedAt'],
  properties: {
    version: { type: 'integer' },
    hash: S,
    active: { type: 'boolean' },
    source: S,
    proposalId: NS,
    summary: NS,
    rollbackPlan: NS,
    proposedBy: NS,
    proposedAt: NS,
    approvedBy: NS,
    approvedAt: NS,
    appliedBy: S,
    appliedAt: S,
    yaml: S,
  },
}

const ID_PARAMS = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } }

interface ProposeBody {
  yaml?: string
  fromVersion?: number
  summary: string
  rollbackPlan: string
}

/**
 * The active configuration and its change management: propose (admin), approve (a second admin
 * or security), apply (admin), history. The --config file of a running server is only compared.
 */
export function configRoutes(deps: ConfigRoutesDeps): FastifyPluginAsync {
  const { changes } = deps
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

    app.get<{ Querystring: VersionListQuery }>(
      '/v1/config/versions',
      {
        config: { action: 'config.read' },
        schema: {
          summary:
            'Config versions, oldest first, with who proposed, approved and applied each: all, or one page with `limit` and `cursor`',
          tags: ['config'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { ...timeRangeProperties('Versions applied'), ...pageProperties() },
          },
          response: { 200: { type: 'array', items: VERSION } },
        },
      },
      async (request, reply) => sendPage(request, reply, await changes.versions(request.query)),
    )

    app.get<{ Params: { version: number } }>(
      '/v1/config/versions/:version',
      {
        config: { action: 'config.read' },
        schema: {
          summary: 'One config version with its YAML',
          tags: ['config'],
          params: {
            type: 'object',
            required: ['version'],
            properties: { version: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } },
          },
          response: { 200: VERSION },
        },
      },
      async (request) => changes.version(request.params.version),
    )

    app.get<{ Querystring: ProposalListQuery }>(
      '/v1/config/proposals',
      {
        config: { action: 'config.read' },
        schema: {
          summary: 'Config proposals, newest first: all, or one page with `limit` and `cursor`',
          tags: ['config'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              state: { type: 'string', enum: [...PROPOSAL_STATES] },
              ...timeRangeProperties('Proposals made'),
              ...pageProperties(),
            },
          },
          response: { 200: { type: 'array', items: PROPOSAL } },
        },
      },
      async (request, reply) => sendPage(request, reply, await changes.list(request.query)),
    )

    app.get<{ Params: { id: string } }>(
      '/v1/config/proposals/:id',
      {
        config: { action: 'config.read' },
        schema: {
          summary: 'One proposal with its YAML and diff',
          tags: ['config'],
          params: ID_PARAMS,
          response: { 200: PROPOSAL },
        },
      },
      async (request) => changes.get(request.params.id),
    )

    app.post<{ Body: ProposeBody }>(
      '/v1/config/proposals',
      {
        config: { action: 'config.propose' },
        schema: {
          summary:
            'Propose a config change (YAML, or fromVersion to roll back); 400 INVALID_CONFIG names the path',
          tags: ['config'],
          body: {
            type: 'object',
            required: ['summary', 'rollbackPlan'],
            additionalProperties: false,
            properties: {
              yaml: { type: 'string', maxLength: 1_000_000 },
              fromVersion: { type: 'integer', minimum: 1, maximum: 2_147_483_647 },
              summary: TEXT,
              rollbackPlan: TEXT,
            },
          },
          response: { 201: PROPOSAL },
        },
      },
      async (request, reply) => {
        const proposal = await changes.propose(principalOf(request), request.body, request.correlationId)
        return reply.code(201).send(proposal)
      },
    )

    app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
      '/v1/config/proposals/:id/approve',
      {
        config: { action: 'approvals.decide' },
        schema: {
          summary:
            "Approve a proposal's approval (an admin or security person; 403 SELF_APPROVAL for the proposer)",
          tags: ['config'],
          params: ID_PARAMS,
          body: { type: 'object', additionalProperties: false, properties: { reason: TEXT } },
          response: { 200: PROPOSAL },
        },
      },
      async (request) => changes.approve(request.params.id, principalOf(request), request.body?.reason),
    )

    app.post<{ Params: { id: string } }>(
      '/v1/config/proposals/:id/apply',
      {
        config: { action: 'config.apply' },
        schema: {
          summary:
            'Apply an approved proposal as the next version; 409 CONFLICT when not approved, stale or a run is in progress',
          tags: ['config'],
          params: ID_PARAMS,
          response: { 200: PROPOSAL },
        },
      },
      async (request) => changes.apply(request.params.id, principalOf(request), request.correlationId),
    )
  }
}
