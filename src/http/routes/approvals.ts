import type { FastifyPluginAsync } from 'fastify'
import {
  APPROVAL_ACTIONS,
  APPROVAL_STATES,
  type ApprovalListQuery,
  type ApprovalService,
} from '../../governance/approvals.js'
import { ROLES } from '../../governance/roles.js'
import { principalOf } from '../auth.js'
import { pageProperties, sendPage, timeRangeProperties } from '../paging.js'

const NULLABLE_STRING = { type: ['string', 'null'] }
const GRANT = {
  type: 'object',
  required: ['by', 'role', 'at'],
  properties: { by: { type: 'string' }, role: { type: 'string', enum: [...ROLES] }, at: { type: 'string' } },
}

export const APPROVAL_SCHEMA = {
  type: 'object',
  required: ['id', 'action', 'subject', 'state', 'requestedBy', 'requiredRoles', 'approvals', 'expiresAt'],
  properties: {
    id: { type: 'string' },
    action: { type: 'string', enum: [...APPROVAL_ACTIONS] },
    subject: { type: 'string' },
    state: { type: 'string', enum: [...APPROVAL_STATES] },
    requestedBy: { type: 'string' },
    requiredRoles: { type: 'array', items: { type: 'string', enum: [...ROLES] } },
    approvals: { type: 'array', items: GRANT },
    rejections: {
      type: 'array',
      items: { ...GRANT, properties: { ...GRANT.properties, reason: NULLABLE_STRING } },
    },
    expiresAt: { type: 'string' },
    payload: { type: 'object', additionalProperties: true },
    digest: { type: 'string' },
    reason: { type: 'string' },
    runId: NULLABLE_STRING,
    correlationId: { type: 'string' },
    createdAt: { type: 'string' },
    decidedAt: NULLABLE_STRING,
  },
}

const ID_PARAMS = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } }
const REASON = { type: 'string', minLength: 1, maxLength: 2000 }

/** Four-eyes approvals: list, approve, reject. Requesting belongs to the action (halt release, …). */
export function approvalRoutes(deps: {
  approvals: Pick<ApprovalService, 'page' | 'get' | 'approve' | 'reject'>
}): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: ApprovalListQuery }>(
      '/v1/approvals',
      {
        config: { action: 'approvals.read' },
        schema: {
          summary: 'List approvals, newest first: all, or one page with `limit` and `cursor`',
          tags: ['approvals'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              state: { type: 'string', enum: [...APPROVAL_STATES] },
              action: { type: 'string', enum: [...APPROVAL_ACTIONS] },
              subject: { type: 'string', maxLength: 200 },
              ...timeRangeProperties('Approvals requested'),
              ...pageProperties(),
            },
          },
          response: { 200: { type: 'array', items: APPROVAL_SCHEMA } },
        },
      },
      async (request, reply) => sendPage(request, reply, await deps.approvals.page(request.query)),
    )

    app.get<{ Params: { id: string } }>(
      '/v1/approvals/:id',
      {
        config: { action: 'approvals.read' },
        schema: {
          summary: 'One approval',
          tags: ['approvals'],
          params: ID_PARAMS,
          response: { 200: APPROVAL_SCHEMA },
        },
      },
      async (request) => deps.approvals.get(request.params.id),
    )

    app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
      '/v1/approvals/:id/approve',
      {
        config: { action: 'approvals.decide' },
        schema: {
          summary: 'Approve (403 SELF_APPROVAL for the requester); the last approval executes the action',
          tags: ['approvals'],
          params: ID_PARAMS,
          body: { type: 'object', additionalProperties: false, properties: { reason: REASON } },
          response: { 200: APPROVAL_SCHEMA },
        },
      },
      async (request) =>
        deps.approvals.approve(request.params.id, principalOf(request), request.body?.reason),
    )

    app.post<{ Params: { id: string }; Body: { reason: string } }>(
      '/v1/approvals/:id/reject',
      {
        config: { action: 'approvals.decide' },
        schema: {
          summary: 'Reject; the requester rejecting withdraws the request',
          tags: ['approvals'],
          params: ID_PARAMS,
          body: {
            type: 'object',
            required: ['reason'],
            additionalProperties: false,
            properties: { reason: REASON },
          },
          response: { 200: APPROVAL_SCHEMA },
        },
      },
      async (request) => deps.approvals.reject(request.params.id, principalOf(request), request.body.reason),
    )
  }
}
