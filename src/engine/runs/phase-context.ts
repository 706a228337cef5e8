import type { Kysely, Transaction } from 'kysely'
import type { Phase } from '../../domain/phases.js'
import type { KeyrotorError } from '../../errors.js'
import type { DependentClient } from '../../dependents/dependent-client.js'
import type { KeyProvider, ProviderKeyRef } from '../../providers/key-provider.js'
import type { DependentObservation } from '../../store/keys-repository.js'
import type { Database, RunRow, RunUpdate } from '../../store/tables.js'
import type { ManagedKey } from '../keys/managed-key.js'

/** Everything a phase may use. Phases act through these and nothing else. */
export interface PhaseContext {
  readonly run: RunRow
  readonly phase: Phase
  readonly key: ManagedKey
  readonly provider: KeyProvider
  readonly ref: ProviderKeyRef
  readonly dependents: DependentClient
  /** Reads only: every write goes through `checkpoint` or the outcome's `commit`. */
  readonly db: Kysely<Database>
  /** When this phase must be done (now + policy.phaseTimeout at its start). */
  readonly deadline: Date
  readonly signal: AbortSignal
  now(): Date
  /** Adds an entry to the run's journal; entries are written with the phase's next commit. */
  note(type: string, message: string, data?: Record<string, unknown>): void
  /**
   * Proves, just before a provider write, that this worker still holds the run: a worker that was
   * paused past its lease must not touch the provider (the store's writes are fenced anyway).
   */
  assertClaim(): Promise<void>
  /** Warning and error log lines written under this run's correlation id so far. */
  loggedProblems(correlationId: string, since: string): string[]
  /** Fault tests only: a named point where the process may be killed (`after-provider`, `after-notice`). */
  crashPoint(point: string): void
  /** Records a dependent's answer, error or notice; written with the phase's next commit. */
  observe(observation: Omit<DependentObservation, 'keyId' | 'at'>): void
  /**
   * A durable step inside a phase, fenced like every run write: promote records the new alias
   * and states before it tells dependents to switch.
   */
  checkpoint(message: string, write: (trx: Transaction<Database>) => Promise<void>): Promise<void>
}

export interface PhaseOutcome {
  /** One line for the journal and `rotate --wait`, e.g. "staged v4 on 3 dependents". */
  message: string
  /** Store changes made in the same transaction that records the phase as done. */
  commit?: (trx: Transaction<Database>) => Promise<void>
  /** Run fields the phase sets (versions, validation). */
  runPatch?: RunUpdate
  /** The phase recorded its outcome but the run fails with this (a failed validation). */
  fail?: KeyrotorError
}

export type PhaseHandler = (ctx: PhaseContext) => Promise<PhaseOutcome>

/**
 * Settles a phase found started but not finished: reads the provider and says what it found.
 * Effect fully present or absent: the handler, which checks before it acts, goes on. Anything
 * else throws a partial-execution error (see `partialExecution`).
 */
export type PhaseSettler = (ctx: PhaseContext) => Promise<string>
