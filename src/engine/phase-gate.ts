import type { Transaction } from 'kysely'
import { isPastPointOfNoReturn, type Phase } from '../domain/phases.js'
import type { RunKind } from '../domain/runs.js'
import type { Database, RunRow } from '../store/tables.js'
import { readHalt } from './halt.js'

/** Whether a run may start its next phase: decided inside the transaction that records the intent. */
export type Gate = { open: true } | { open: false; why: 'halted' | 'cancelled'; detail: string }

/**
 * Every phase start checks, in its own transaction, the global halt (only forward correction
 * runs while it is engaged) and a cancel request (honoured only before promote).
 */
export async function phaseGate(
  trx: Transaction<Database>,
  run: RunRow,
  next: Phase,
  previous: Phase | null,
): Promise<Gate> {
  const kind = run.kind as RunKind
  if (kind !== 'forward-correct') {
    const halt = await readHalt(trx)
    if (halt.engaged) return { open: false, why: 'halted', detail: `halt engaged: ${halt.reason ?? ''}` }
  }
  const row = await trx
    .selectFrom('runs')
    .select('cancel_requested_at')
    .where('id', '=', run.id)
    .executeTakeFirst()
  // the boundary before promote is the last one a cancel may stop the run at
  const cancellable = !isPastPointOfNoReturn(kind, previous ?? next)
  if (row?.cancel_requested_at != null && cancellable) {
    return { open: false, why: 'cancelled', detail: `cancel requested at ${row.cancel_requested_at}` }
  }
  return { open: true }
}
