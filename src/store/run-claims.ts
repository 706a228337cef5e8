import type { ExpressionOrFactory, SqlBool } from 'kysely'
import type { DialectName } from './dialect.js'
import { isHalted } from './halt-repository.js'
import type { Transact } from './transactor.js'
import type { Database, RunRow, RunUpdate } from './tables.js'

/**
 * Up to `limit` runnable runs, claimed in one transaction: queued and due, or running and due
 * with no live lease (its worker died, or gave it back: paused by the halt, waiting for a change
 * window). Each claim takes a lease and a fresh fencing token. One transaction for all the free
 * slots of a worker, rather than one per run: a worker that claimed one run per transaction could
 * start at most one run per commit, which capped the whole engine at one commit per rotation.
 */
export async function claimRuns(
  transact: Transact,
  dialect: DialectName,
  owner: string,
  now: Date,
  leaseMs: number,
  limit: number,
): Promise<RunRow[]> {
  if (limit < 1) return []
  const nowIso = now.toISOString()
  return transact(async (trx) => {
    const halted = await isHalted(trx)
    // One lookup per state, each a walk of runs_by_state (state, priority, created_at) in order:
    // a single query with an OR across the two states cannot use the index's order, so it sorted
    // every queued run at each claim (quadratic in a large backlog).
    const firsts = (state: 'queued' | 'running', due: ExpressionOrFactory<Database, 'runs', SqlBool>) => {
      let query = trx
        .selectFrom('runs')
        .selectAll()
        .where('state', '=', state)
        .where(due)
        // while the global halt is engaged only forward correction may start a phase
        .$if(halted, (q) => q.where('kind', '=', 'forward-correct'))
        .orderBy('priority')
        .orderBy('created_at')
        .limit(limit)
      // on PostgreSQL another instance's claim passes these rows by instead of waiting for them
      if (dialect === 'postgres') query = query.forUpdate().skipLocked()
      return query.execute()
    }
    const queued = await firsts('queued', (eb) =>
      eb.or([eb('not_before', 'is', null), eb('not_before', '<=', nowIso)]),
    )
    // A running run is claimable once no worker holds it (lease expired, or given back with the
    // owner cleared, which a late heartbeat cannot undo) and it is due: a run waiting for its
    // change window has not_before at the next opening, unless a cancel request wakes it early.
    const orphaned = await firsts('running', (eb) =>
      eb.and([
        eb.or([eb('lease_expires_at', '<', nowIso), eb('lease_owner', 'is', null)]),
        eb.or([
          eb('not_before', 'is', null),
          eb('not_before', '<=', nowIso),
          eb('cancel_requested_at', 'is not', null),
        ]),
      ]),
    )
    const candidates = [...queued, ...orphaned].sort(claimOrder).slice(0, limit)
    const claimed: RunRow[] = []
    const expires = new Date(now.getTime() + leaseMs).toISOString()
    for (const candidate of candidates) {
      const claim: RunUpdate = {
        state: 'running',
        lease_owner: owner,
        lease_expires_at: expires,
        fencing_token: candidate.fencing_token + 1,
        started_at: candidate.started_at ?? nowIso,
      }
      const result = await trx
        .updateTable('runs')
        .set(claim)
        .where('id', '=', candidate.id)
        .where('fencing_token', '=', candidate.fencing_token)
        .executeTakeFirst()
      // another instance claimed it between our read and our write: not ours
      if (result.numUpdatedRows === 1n) claimed.push({ ...candidate, ...claim })
    }
    return claimed
  })
}

/** The claim order: priority first, then the older run; on a tie the queued run (listed first; the sort is stable). */
function claimOrder(a: RunRow, b: RunRow): number {
  if (a.priority !== b.priority) return a.priority - b.priority
  return a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0
}
