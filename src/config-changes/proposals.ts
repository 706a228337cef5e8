import type { Selectable } from 'kysely'
import { KeyrotorError } from '../errors.js'
import { byTimeThenId, filteredPage, keysetPage, withinTime } from '../store/keyset-page.js'
import type { KeysetOrder, Page, PageQuery, TimeRange } from '../store/keyset-page.js'
import type { Executor } from '../store/database.js'
import type { ConfigProposalsTable } from '../store/tables.js'

export const PROPOSAL_STATES = ['pending', 'approved', 'applied', 'rejected', 'expired'] as const
export type ProposalState = (typeof PROPOSAL_STATES)[number]

type ProposalRow = Selectable<ConfigProposalsTable>

/** A config change as the API and the CLI show it; `yaml` and `diff` only when one is asked for. */
export interface ConfigProposalView {
  id: string
  state: ProposalState
  summary: string
  rollbackPlan: string
  hash: string
  baseVersion: number
  proposedBy: string
  createdAt: string
  approvalId: string
  approvedBy: string | null
  approvedAt: string | null
  appliedBy: string | null
  appliedAt: string | null
  appliedVersion: number | null
  decidedAt: string | null
  diff?: string
  yaml?: string
}

/** One config version with who proposed, approved and applied it (version 1 is the bootstrap). */
export interface ConfigVersionView {
  version: number
  hash: string
  active: boolean
  source: string
  proposalId: string | null
  summary: string | null
  rollbackPlan: string | null
  proposedBy: string | null
  proposedAt: string | null
  approvedBy: string | null
  approvedAt: string | null
  appliedBy: string
  appliedAt: string
  yaml?: string
}

export function toProposalView(row: ProposalRow, detail = false): ConfigProposalView {
  return {
    id: row.id,
    state: row.state as ProposalState,
    summary: row.summary,
    rollbackPlan: row.rollback_plan,
    hash: row.hash,
    baseVersion: row.base_version,
    proposedBy: row.proposed_by,
    createdAt: row.created_at,
    approvalId: row.approval_id,
    approvedBy: row.approved_by,
    approvedAt: row.approved_at,
    appliedBy: row.applied_by,
    appliedAt: row.applied_at,
    appliedVersion: row.applied_version,
    decidedAt: row.decided_at,
    ...(detail ? { diff: row.diff, yaml: row.body } : {}),
  }
}

export async function loadProposal(db: Executor, id: string): Promise<ProposalRow> {
  const row = await db.selectFrom('config_proposals').selectAll().where('id', '=', id).executeTakeFirst()
  if (row === undefined) throw new KeyrotorError('NOT_FOUND', `no config proposal ${id}`)
  return row
}

/** Proposals newest first; `since`/`until` on when they were made. */
export interface ProposalListQuery extends PageQuery, TimeRange {
  state?: ProposalState | undefined
}

const PROPOSALS_NEWEST_FIRST = byTimeThenId<ProposalRow, 'created_at'>(
  'config-proposals',
  'created_at',
  'desc',
)

/** Proposals newest first, one page (all of them when no limit is given). */
export async function listProposals(
  db: Executor,
  query: ProposalListQuery,
): Promise<Page<ConfigProposalView>> {
  const select = db.selectFrom('config_proposals').selectAll()
  const filter = { equal: { state: query.state }, time: 'created_at' } as const
  const page = await filteredPage(select, filter, PROPOSALS_NEWEST_FIRST, query)
  return { ...page, items: page.items.map((row) => toProposalView(row)) }
}

export interface VersionListQuery extends PageQuery {
  /** Just this version, with its YAML. */
  only?: number | undefined
  /** Versions applied at or after this time. */
  since?: string | undefined
  until?: string | undefined
}

const VERSIONS_OLDEST_FIRST: KeysetOrder<{ version: number }> = {
  list: 'config-versions',
  columns: ['v.version'],
  direction: 'asc',
  positionOf: (row) => [row.version],
}

/** Config versions oldest first, with the proposal each came from (none for the bootstrap). */
export async function listVersions(
  db: Executor,
  filter: VersionListQuery = {},
): Promise<Page<ConfigVersionView>> {
  const only = filter.only
  let query = db
    .selectFrom('config_versions as v')
    .leftJoin('config_proposals as p', 'p.applied_version', 'v.version')
    .select([
      'v.version',
      'v.hash',
      'v.active',
      'v.source',
      'v.body',
      'v.created_at',
      'v.created_by',
      'p.id as proposal_id',
      'p.summary',
      'p.rollback_plan',
      'p.proposed_by',
      'p.created_at as proposed_at',
      'p.approved_by',
      'p.approved_at',
    ])
  if (only !== undefined) query = query.where('v.version', '=', only)
  query = withinTime(query, 'v.created_at', filter)
  const page = await keysetPage(query, VERSIONS_OLDEST_FIRST, filter)
  const items = page.items.map((r) => ({
    version: r.version,
    hash: r.hash,
    active: r.active === 1,
    source: r.source,
    proposalId: r.proposal_id,
    summary: r.summary,
    rollbackPlan: r.rollback_plan,
    proposedBy: r.proposed_by,
    proposedAt: r.proposed_at,
    approvedBy: r.approved_by,
    approvedAt: r.approved_at,
    appliedBy: r.created_by,
    appliedAt: r.created_at,
    ...(only !== undefined ? { yaml: r.body } : {}),
  }))
  return { ...page, items }
}

/** The active version's number and text; version 0 and no text before any config was applied. */
export async function activeBody(
  db: Executor,
): Promise<{ version: number; hash: string | null; body: string }> {
  const row = await db
    .selectFrom('config_versions')
    .select(['version', 'hash', 'body'])
    .where('active', '=', 1)
    .executeTakeFirst()
  return row ?? { version: 0, hash: null, body: '' }
}
