import type { Transaction } from 'kysely'
import { isPastPointOfNoReturn, type Phase } from '../../domain/phases.js'
import { windowsApply } from '../../domain/windows.js'
import type { Database, RunRow } from '../../store/tables.js'
import { promoteWait } from '../schedule/change-window.js'
import { readHalt } from '../../store/halt-repository.js'
import { cancelRequestedAt } from '../../store/runs-repository.js'
import { jwksPublicationWait } from '../keys/jwks-publication.js'

/** Whether a run may start its next phase: decided inside the transaction that records the intent. */
export type Gate =
  | { open: true }
  | { open: false; why: 'halted' | 'cancelled'; detail: string }
  /** The change window is closed (or a blackout holds) before promote: the run waits until `until`. */
  | { open: false; why: 'window'; detail: string; until: Date }
  /** A signing key's new version has not been in the JWKS for policy.jwksMaxAge yet: waits until `until`. */
  | { open: false; why: 'published'; detail: string; until: Date }

/**
 * Every phase start checks, in its own transaction, the global halt (only forward correction
 * runs while it is engaged) and a cancel request (honoured only before promote). Before promote,
 * an ordinary rotation also checks its change window again: past its close, it waits.
 */
export async function phaseGate(
  trx: Transaction<Database>,
  run: RunRow,
  next: Phase,
  previous: Phase | null,
  now: Date = new Date(),
): Promise<Gate> {
  const kind = run.kind
  if (kind !== 'forward-correct') {
    const halt = await readHalt(trx)
    if (halt.engaged) return { open: false, why: 'halted', detail: `halt engaged: ${halt.reason ?? ''}` }
  }
  const cancelAt = await cancelRequestedAt(trx, run.id)
  // the boundary before promote is the last one a cancel may stop the run at
  const cancellable = !isPastPointOfNoReturn(kind, previous ?? next)
  if (cancelAt !== null && cancellable) {
    return { open: false, why: 'cancelled', detail: `cancel requested at ${cancelAt}` }
  }
  // an approved emergency, a forward correction and a revoke ignore windows and blackouts
  if (next === 'promote' && windowsApply(kind, run.trigger)) {
    const wait = await promoteWait(trx, run.key_id, now)
    if (wait !== null) return { open: false, why: 'window', ...wait }
  }
  if (next === 'promote') {
    const wait = await jwksPublicationWait(trx, run, now)
    if (wait !== null) return { open: false, why: 'published', ...wait }
  }
  return { open: true }
}
