import { randomBytes } from 'node:crypto'
import { configHash } from '../config/config-hash.js'
import { parseConfig, type ParseConfigOptions } from '../config/load-config.js'
import type { KeyrotorConfig } from '../config/schema.js'
import type { EngineDeps } from '../engine/engine-deps.js'
import { KeyrotorError } from '../errors.js'
import type { ApprovalService, Decider } from '../governance/approvals.js'
import { applyProposal } from './apply.js'
import { unifiedDiff } from './diff.js'
import { planSync } from './sync.js'
import {
  activeBody,
  listProposals,
  listVersions,
  loadProposal,
  toProposalView,
  type ConfigProposalView,
  type ProposalListQuery,
  type VersionListQuery,
} from './proposals.js'
import { registerConfigApproval } from './approval.js'
import type { Role } from '../domain/roles.js'

export type { ConfigProposalView, ConfigVersionView, ProposalState } from './proposals.js'

export interface ConfigChangeDeps extends Pick<EngineDeps, 'db' | 'providers' | 'audit' | 'now'> {
  approvals: Pick<ApprovalService, 'register' | 'request' | 'approve'>
  /** The same checks as at bootstrap (which providers this build has). */
  parseOptions?: ParseConfigOptions
  /** How long a proposal waits for its approval; 7 days unless told. */
  approvalTtlMs?: number
}

export interface ProposeInput {
  /** The proposed keyrotor.yaml; or `fromVersion`, an earlier version's text (a rollback). */
  yaml?: string | undefined
  fromVersion?: number | undefined
  summary: string
  rollbackPlan: string
}

export type ConfigChanges = ReturnType<typeof createConfigChanges>

const DEFAULT_TTL_MS = 7 * 24 * 3_600_000

/**
 * Configuration change management: propose (diffed against the active version, validated, one
 * approval requested), approve (a second admin or a security person, never the proposer), apply
 * (the approved text becomes version N+1 and the store is brought in line with it). A config
 * change never takes effect without a second person, and every step is audited.
 */
export function createConfigChanges(deps: ConfigChangeDeps) {
  const { db } = deps
  const parse = (text: string, source: string): KeyrotorConfig => parseConfig(text, source, deps.parseOptions)
  registerConfigApproval(deps)

  async function textOf(input: ProposeInput): Promise<string> {
    if (input.fromVersion === undefined) {
      if (input.yaml === undefined)
        throw new KeyrotorError('BAD_REQUEST', 'a proposal needs yaml or fromVersion')
      return input.yaml
    }
    const row = await db
      .selectFrom('config_versions')
      .select('body')
      .where('version', '=', input.fromVersion)
      .executeTakeFirst()
    if (row === undefined) throw new KeyrotorError('NOT_FOUND', `no config version ${input.fromVersion}`)
    return row.body
  }

  return {
    async propose(
      by: { user: string; role: Role },
      input: ProposeInput,
      correlationId: string,
    ): Promise<ConfigProposalView> {
      for (const [field, value] of [
        ['summary', input.summary],
        ['rollbackPlan', input.rollbackPlan],
      ] as const) {
        if (value.trim() === '') throw new KeyrotorError('BAD_REQUEST', `a config proposal needs a ${field}`)
      }
      const text = await textOf(input)
      const config = parse(
        text,
        input.fromVersion === undefined ? 'proposal' : `version ${input.fromVersion}`,
      )
      const hash = configHash(config)
      const base = await activeBody(db)
      if (base.hash === hash) {
        throw new KeyrotorError(
          'BAD_REQUEST',
          `the proposal is the active config version ${base.version}; nothing changes`,
        )
      }
      // what apply would refuse is refused now, before anyone spends a review on it
      await planSync(db, config)
      const now = deps.now()
      const id = `cfg_${now.getTime().toString(36)}${randomBytes(4).toString('hex')}`
      const diff = unifiedDiff(base.body, text, { from: `config v${base.version}`, to: `proposal ${id}` })
      await db.transaction().execute(async (trx) => {
        const approval = await deps.approvals.request(trx, {
          action: 'config.apply',
          subject: id,
          payload: { proposalId: id, hash, baseVersion: base.version },
          // any one admin or security person other than the proposer
          requiredRoles: ['admin|security'],
          requestedBy: by,
          reason: input.summary,
          ttlMs: deps.approvalTtlMs ?? DEFAULT_TTL_MS,
          correlationId,
        })
        await trx
          .insertInto('config_proposals')
          .values({
            id,
            body: text,
            hash,
            base_version: base.version,
            diff,
            summary: input.summary,
            rollback_plan: input.rollbackPlan,
            state: 'pending',
            proposed_by: by.user,
            created_at: now.toISOString(),
            approval_id: approval.id,
            approved_by: null,
            approved_at: null,
            applied_by: null,
            applied_at: null,
            applied_version: null,
            decided_at: null,
          })
          .execute()
        await deps.audit.append(trx, {
          actor: by.user,
          action: 'config.proposed',
          target: id,
          correlationId,
          reason: input.summary,
          details: {
            hash,
            baseVersion: base.version,
            approvalId: approval.id,
            fromVersion: input.fromVersion ?? null,
          },
        })
      })
      return toProposalView(await loadProposal(db, id), true)
    },

    /** Approves the proposal's approval (the approvals service enforces who may). */
    async approve(id: string, decider: Decider, reason?: string): Promise<ConfigProposalView> {
      const row = await loadProposal(db, id)
      await deps.approvals.approve(row.approval_id, decider, reason)
      return toProposalView(await loadProposal(db, id))
    },

    /** Makes an approved proposal the active version N+1 and brings the store in line with it. */
    apply: (id: string, by: { user: string }, correlationId: string) =>
      applyProposal({ ...deps, parse }, id, by, correlationId),

    async get(id: string): Promise<ConfigProposalView> {
      return toProposalView(await loadProposal(db, id), true)
    },
    /** Newest first, one page (all of them when no limit is given). */
    list: (query: ProposalListQuery = {}) => listProposals(db, query),
    /** Oldest first, one page (all of them when no limit is given). */
    versions: (query: Omit<VersionListQuery, 'only'> = {}) => listVersions(db, query),
    async version(n: number) {
      const [found] = (await listVersions(db, { only: n })).items
      if (found === undefined) throw new KeyrotorError('NOT_FOUND', `no config version ${n}`)
      return found
    },
  }
}
