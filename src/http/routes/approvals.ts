import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { ApprovalService } from '../../governance/approvals.js'
import { principalOf } from '../auth.js'
import { IdParams, problems } from '../schemas/common.js'
import { Approval, ApprovalsQuery, ApproveBody, RejectBody } from '../schemas/governance.js'

/** Four-eyes approvals: list, approve, reject. Requesting belongs to the action (halt release, …). */
export function approvalRoutes(deps: {
  approvals: Pick<ApprovalService, 'list' | 'get' | 'approve' | 'reject'>
}): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>()
    app.get(
      '/v1/approvals',
      {
        config: { action: 'approvals.read' },
        schema: {
          summary: 'List approvals, newest first',
          tags: ['approvals'],
          operationId: 'listApprovals',
          querystring: ApprovalsQuery,
          response: { 200: z.array(Approval), ...problems(400) },
        },
      },
      async (request) =>
        deps.approvals.list(request.query.state === undefined ? {} : { state: request.query.state }),
    )

    app.get(
      '/v1/approvals/:id',
      {
        config: { action: 'approvals.read' },
        schema: {
          summary: 'One approval',
          tags: ['approvals'],
          operationId: 'getApproval',
          params: IdParams,
          response: { 200: Approval, ...problems(400, 404) },
        },
      },
      async (request) => deps.approvals.get(request.params.id),
    )

    app.post(
      '/v1/approvals/:id/approve',
      {
        config: { action: 'approvals.decide' },
        schema: {
          summary: 'Approve (403 SELF_APPROVAL for the requester); the last approval executes the action',
          tags: ['approvals'],
          operationId: 'approve',
          params: IdParams,
          body: ApproveBody,
          response: { 200: Approval, ...problems(400, 404, 409) },
        },
      },
      async (request) =>
        deps.approvals.approve(request.params.id, principalOf(request), request.body?.reason),
    )

    app.post(
      '/v1/approvals/:id/reject',
      {
        config: { action: 'approvals.decide' },
        schema: {
          summary: 'Reject; the requester rejecting withdraws the request',
          tags: ['approvals'],
          operationId: 'reject',
          params: IdParams,
          body: RejectBody,
          response: { 200: Approval, ...problems(400, 404, 409) },
        },
      },
      async (request) => deps.approvals.reject(request.params.id, principalOf(request), request.body.reason),
    )
  }
}
