import type { Kysely } from 'kysely'
import { expectedProviderState, type VersionState } from '../../src/domain/lifecycle.js'
import { isPastPointOfNoReturn, type Phase } from '../../src/domain/phases.js'
import { NON_TERMINAL_RUN_STATES } from '../../src/domain/runs.js'
import { FAILURE_CLASSES } from '../../src/errors.js'
import type { Database, RunRow } from '../../src/store/tables.js'
import type { DependentState } from './controllable-dependents.js'

/**
 * One stretch of the global halt, in run_events ids (SQLite serializes transactions, so the ids
 * order every phase start against the halt's engagement): every event with `from < id <= to` was
 * written while the halt was engaged. The bounds are conservative: `from` is read after the halt
 * was engaged and `to` before it was released, so an id inside is certainly inside the halt.
 */
export interface HaltInterval {
  from: number
  /** null while the halt is engaged. */
  to: number | null
  /** The last event id read after the release: a later engagement starts after it. */
  releasedAfter: number | null
  by: 'operator' | 'engine'
}

/** What the model knows beyond the store: what it did and what it was told. */
export interface ModelState {
  /** Idempotency key → the one run it names (DESIGN §4.2). */
  idempotency: Map<string, { runId: string; key: string }>
  /**
   * Run id → how many times it had failed when a verify of it passed while it was failed; a
   * retry is allowed only when this equals its failures so far (DESIGN §4.6).
   */
  verifiedAtFailure: Map<string, number>
  halts: HaltInterval[]
  /** Halted runs already checked against the halt (invariant 8). */
  haltedSeen: Set<string>
  /** The command being run released the halt (a run halted during it may have seen that halt). */
  releasedDuringCommand: boolean
}

export function emptyModel(): ModelState {
  return {
    idempotency: new Map(),
    verifiedAtFailure: new Map(),
    halts: [],
    haltedSeen: new Set(),
    releasedDuringCommand: false,
  }
}

/** A broken invariant, with what was read as evidence. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation'
  constructor(
    readonly invariant: number,
    message: string,
    readonly evidence: unknown,
  ) {
    super(`invariant ${invariant} violated: ${message}\nevidence: ${JSON.stringify(evidence, null, 1)}`)
  }
}

const NON_TERMINAL: readonly string[] = NON_TERMINAL_RUN_STATES

export async function maxEventId(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('run_events')
    .select((eb) => eb.fn.max('id').as('id'))
    .executeTakeFirst()
  return Number(row?.id ?? 0)
}

export async function haltEngaged(db: Kysely<Database>): Promise<boolean> {
  const row = await db.selectFrom('halt').select('engaged').where('id', '=', 1).executeTakeFirstOrThrow()
  return Number(row.engaged) === 1
}

/**
 * Follows the halt row after a command: an engagement the model did not make is the engine's (a
 * partial execution, whose `run.halted` event is written in the engaging transaction); a release
 * the model did not make is a side door (DESIGN §4.10).
 */
export async function observeHalt(db: Kysely<Database>, model: ModelState): Promise<void> {
  const engaged = await haltEngaged(db)
  const open = model.halts.find((h) => h.to === null)
  if (engaged && open === undefined) {
    const after = model.halts.at(-1)?.releasedAfter ?? 0
    const first = await db
      .selectFrom('run_events')
      .select('id')
      .where('type', '=', 'run.halted')
      .where('id', '>', after)
      .orderBy('id')
      .executeTakeFirst()
    // none after the release's last read: the engine engaged it in the window just after it
    model.halts.push({ from: first?.id ?? after, to: null, releasedAfter: null, by: 'engine' })
  } else if (!engaged && open !== undefined) {
    throw new InvariantViolation(6, 'the halt was released without the release flow (a side door)', {
      halt: open,
    })
  }
}

interface Snapshot {
  runs: RunRow[]
  versions: { key_id: string; version: number; state: string }[]
  storeAliases: { key_id: string; name: string; version: number }[]
  providerVersions: { key_id: string; version: number; state: string }[]
  providerAliases: { key_id: string; alias: string; version: number }[]
  openPartialAlertKeys: Set<string>
  partialAlertRuns: Set<string>
  halt: boolean
}

async function snapshot(db: Kysely<Database>): Promise<Snapshot> {
  const [runs, versions, storeAliases, providerVersions, providerAliases, alerts, halt] = await Promise.all([
    db.selectFrom('runs').selectAll().orderBy('created_at').orderBy('id').execute(),
    db.selectFrom('key_versions').select(['key_id', 'version', 'state']).orderBy('version').execute(),
    db.selectFrom('key_aliases').select(['key_id', 'name', 'version']).execute(),
    db.selectFrom('local_keystore').select(['key_id', 'version', 'state']).orderBy('version').execute(),
    db.selectFrom('local_aliases').select(['key_id', 'alias', 'version']).execute(),
    db
      .selectFrom('alerts')
      .select(['key_id', 'run_id', 'state'])
      .where('type', '=', 'partial_execution')
      .execute(),
    haltEngaged(db),
  ])
  return {
    runs,
    versions: versions.map((v) => ({ ...v, version: Number(v.version) })),
    storeAliases: storeAliases.map((a) => ({ ...a, version: Number(a.version) })),
    providerVersions: providerVersions.map((v) => ({ ...v, version: Number(v.version) })),
    providerAliases: providerAliases.map((a) => ({ ...a, version: Number(a.version) })),
    openPartialAlertKeys: new Set(
      alerts.filter((a) => a.state !== 'resolved' && a.key_id !== null).map((a) => a.key_id as string),
    ),
    partialAlertRuns: new Set(alerts.filter((a) => a.run_id !== null).map((a) => a.run_id as string)),
    halt,
  }
}

/**
 * DESIGN §4 made checkable: reads the store, the local provider's tables and the in-memory
 * dependents, and throws the first broken invariant with its evidence.
 */
export async function checkInvariants(
  db: Kysely<Database>,
  keys: readonly string[],
  dependents: readonly DependentState[],
  model: ModelState,
): Promise<void> {
  const s = await snapshot(db)
  exclusive(s)
  for (const key of keys) {
    const live = s.runs.filter((r) => r.key_id === key && NON_TERMINAL.includes(r.state))
    const frozenByHalt = s.halt && s.openPartialAlertKeys.has(key)
    activeAndAlias(s, key, live, frozenByHalt)
    noPrematureRevocation(s, key, dependents)
    sameVersions(s, key, live, frozenByHalt)
  }
  await retriedOnlyAfterVerify(db)
  await noPhaseStartedWhileHalted(db, model)
  idempotent(s)
  partialExecutionHalts(s, model)
  cancelledBeforePointOfNoReturn(s, await startedPhases(db))
  failuresClassified(s)
}

/** 1. At most one non-terminal run per key; a run holds its key (active_key) exactly while it lives. */
function exclusive(s: Snapshot): void {
  const live = new Map<string, string[]>()
  for (const run of s.runs) {
    const isLive = NON_TERMINAL.includes(run.state)
    if (isLive) live.set(run.key_id, [...(live.get(run.key_id) ?? []), run.id])
    if ((run.active_key !== null) !== isLive || (isLive && run.active_key !== run.key_id)) {
      throw new InvariantViolation(1, `run ${run.id} is ${run.state} with active_key ${run.active_key}`, run)
    }
  }
  for (const [key, ids] of live) {
    if (ids.length > 1) throw new InvariantViolation(1, `key ${key} has ${ids.length} non-terminal runs`, ids)
  }
}

/**
 * 2. Exactly one active version per key; the store's aliases point at it; the provider's alias
 * does too, unless a run of the key is between promote and its end, or the halt is engaged with a
 * partial-execution alert for the key.
 */
function activeAndAlias(s: Snapshot, key: string, live: RunRow[], frozenByHalt: boolean): void {
  const active = s.versions.filter((v) => v.key_id === key && v.state === 'active')
  if (active.length !== 1 || active[0] === undefined) {
    throw new InvariantViolation(2, `key ${key} has ${active.length} active versions in the store`, active)
  }
  const v = active[0].version
  const storeAliases = s.storeAliases.filter((a) => a.key_id === key)
  if (storeAliases.some((a) => a.version !== v)) {
    throw new InvariantViolation(2, `a store alias of ${key} does not point at active v${v}`, storeAliases)
  }
  // only promote itself moves the provider's alias ahead of the store (its checkpoint catches up)
  const inPromotion = live.some((r) => r.kind !== 'revoke' && r.phase === 'promote')
  if (inPromotion || frozenByHalt) return
  const providerAliases = s.providerAliases.filter((a) => a.key_id === key)
  if (providerAliases.length !== storeAliases.length || providerAliases.some((a) => a.version !== v)) {
    throw new InvariantViolation(
      2,
      `the provider's alias of ${key} does not point at the store's active v${v}`,
      {
        providerAliases,
        storeAliases,
        live: live.map(brief),
      },
    )
  }
}

/**
 * 3. No version is disabled or destroyed while a dependent still accepts or uses it, and never the
 * active one (DESIGN §4.9). A dependent never takes a version back once it let go of it, so what
 * it holds now it held when the version was revoked.
 */
function noPrematureRevocation(s: Snapshot, key: string, dependents: readonly DependentState[]): void {
  const gone = new Set<number>()
  for (const v of [...s.versions, ...s.providerVersions]) {
    if (v.key_id === key && (v.state === 'disabled' || v.state === 'destroyed')) gone.add(v.version)
  }
  for (const version of gone) {
    const holders = dependents.filter(
      (d) => d.key === key && (d.accepts.includes(version) || d.active === version),
    )
    if (holders.length > 0) {
      throw new InvariantViolation(3, `${key} v${version} was revoked while a dependent still holds it`, {
        holders,
        store: s.versions.filter((x) => x.key_id === key),
        provider: s.providerVersions.filter((x) => x.key_id === key),
      })
    }
  }
  const active = s.versions.find((v) => v.key_id === key && v.state === 'active')?.version
  const aliased = s.providerAliases.filter((a) => a.key_id === key).map((a) => a.version)
  for (const version of [active, ...aliased]) {
    if (version !== undefined && gone.has(version)) {
      throw new InvariantViolation(3, `${key} v${version} is active or aliased but revoked`, {
        store: s.versions.filter((x) => x.key_id === key),
        provider: s.providerVersions.filter((x) => x.key_id === key),
        aliased,
      })
    }
  }
}

/**
 * 4. The store's versions are 1..N and the provider holds the same ones in matching states; the
 * only differences are a live run's own unrecorded effect (the version its create made, the
 * version its revoke disabled), or a partial execution the halt froze.
 */
function sameVersions(s: Snapshot, key: string, live: RunRow[], frozenByHalt: boolean): void {
  const store = s.versions.filter((v) => v.key_id === key)
  const provider = s.providerVersions.filter((v) => v.key_id === key)
  const evidence = { store, provider, live: live.map(brief) }
  if (store.some((v, i) => v.version !== i + 1)) {
    throw new InvariantViolation(
      4,
      `the versions of ${key} in the store are not 1..${store.length}`,
      evidence,
    )
  }
  const creating = live.find((r) => r.phase === 'create')?.to_version ?? null
  const revoking = live.find((r) => r.kind === 'revoke' && r.phase === 'revoke')?.from_version ?? null
  const atProvider = new Map(provider.map((v) => [v.version, v.state]))
  for (const v of store) {
    const actual = atProvider.get(v.version)
    atProvider.delete(v.version)
    if (actual === undefined) {
      throw new InvariantViolation(
        4,
        `${key} v${v.version} is in the store but not at the provider`,
        evidence,
      )
    }
    const expected = expectedProviderState(v.state as VersionState)
    const explained = frozenByHalt || (v.version === revoking && v.state === 'retiring')
    if (actual !== expected && !explained) {
      throw new InvariantViolation(
        4,
        `${key} v${v.version} is ${v.state} in the store, ${actual} at the provider`,
        evidence,
      )
    }
  }
  for (const [version, state] of atProvider) {
    const explained = version === creating && state === 'enabled' && version === store.length + 1
    if (!explained) {
      throw new InvariantViolation(
        4,
        `${key} v${version} is at the provider (${state}) but not in the store`,
        evidence,
      )
    }
  }
}

/**
 * 5. A failed run is re-run only after a verify of it passed later than its failure: every
 * `run.retried` event follows a passed verification of the run after the last failure before it.
 */
async function retriedOnlyAfterVerify(db: Kysely<Database>): Promise<void> {
  const events = await db
    .selectFrom('run_events')
    .select(['id', 'run_id', 'type', 'at'])
    .where('type', 'in', ['run.failed', 'run.retried'])
    .orderBy('id')
    .execute()
  const lastFailure = new Map<string, string>()
  for (const e of events) {
    if (e.type === 'run.failed') {
      lastFailure.set(e.run_id, e.at)
      continue
    }
    const failedAt = lastFailure.get(e.run_id)
    const verified =
      failedAt === undefined
        ? undefined
        : await db
            .selectFrom('verifications')
            .select(['at', 'passed'])
            .where('run_id', '=', e.run_id)
            .where('passed', '=', 1)
            .where('at', '>', failedAt)
            .where('at', '<=', e.at)
            .executeTakeFirst()
    if (verified === undefined) {
      throw new InvariantViolation(
        5,
        `run ${e.run_id} was retried at ${e.at} without a passed verify after its failure`,
        {
          failedAt: failedAt ?? null,
          verifications: await db
            .selectFrom('verifications')
            .selectAll()
            .where('run_id', '=', e.run_id)
            .execute(),
        },
      )
    }
    lastFailure.delete(e.run_id)
  }
}

/** 6. While the halt is engaged no run but a forward correction starts a phase. */
async function noPhaseStartedWhileHalted(db: Kysely<Database>, model: ModelState): Promise<void> {
  for (const halt of model.halts) {
    let query = db
      .selectFrom('run_events')
      .innerJoin('runs', 'runs.id', 'run_events.run_id')
      .select(['run_events.id', 'run_events.run_id', 'run_events.phase', 'run_events.at', 'runs.kind'])
      .where('run_events.type', '=', 'phase.started')
      .where('runs.kind', '!=', 'forward-correct')
      .where('run_events.id', '>', halt.from)
    if (halt.to !== null) query = query.where('run_events.id', '<=', halt.to)
    const started = await query.execute()
    if (started.length > 0) {
      throw new InvariantViolation(6, `${started.length} phase(s) started while the halt was engaged`, {
        halt,
        started,
      })
    }
  }
}

/** 7. One run per idempotency key, ever (the model checks each trigger's answer too). */
function idempotent(s: Snapshot): void {
  const seen = new Map<string, string>()
  for (const run of s.runs) {
    if (run.idempotency_key === null) continue
    const other = seen.get(run.idempotency_key)
    if (other !== undefined) {
      throw new InvariantViolation(7, `idempotency key ${run.idempotency_key} names two runs`, [
        other,
        run.id,
      ])
    }
    seen.set(run.idempotency_key, run.id)
  }
}

/**
 * 8. A run stopped between promote and the end of confirm ends halted, with the global halt
 * engaged and a partial-execution alert (DESIGN §4.7).
 */
function partialExecutionHalts(s: Snapshot, model: ModelState): void {
  for (const run of s.runs) {
    const stoppedInWindow =
      run.kind !== 'revoke' && (run.failure_phase === 'promote' || run.failure_phase === 'confirm')
    if (stoppedInWindow && run.state !== 'halted') {
      throw new InvariantViolation(
        8,
        `run ${run.id} stopped in ${run.failure_phase} but is ${run.state}`,
        brief(run),
      )
    }
    if (run.state !== 'halted') continue
    if (!s.partialAlertRuns.has(run.id)) {
      throw new InvariantViolation(8, `halted run ${run.id} has no partial_execution alert`, brief(run))
    }
    if (model.haltedSeen.has(run.id)) continue
    if (!s.halt && !model.releasedDuringCommand) {
      throw new InvariantViolation(8, `run ${run.id} halted but the global halt is not engaged`, brief(run))
    }
    model.haltedSeen.add(run.id)
  }
}

/** (DESIGN §3, §4.7) A cancel is honoured only before the point of no return. */
function cancelledBeforePointOfNoReturn(s: Snapshot, started: Map<string, Set<string>>): void {
  for (const run of s.runs) {
    if (run.state !== 'cancelled') continue
    const phases = started.get(run.id) ?? new Set<string>()
    const past = [...phases].filter((p) => isPastPointOfNoReturn(run.kind, p as Phase))
    if (past.length > 0) {
      throw new InvariantViolation(
        9,
        `run ${run.id} was cancelled after it started ${past.join(', ')}`,
        brief(run),
      )
    }
  }
}

/** (DESIGN §4.5) Every failed or halted run records its phase and a class. */
function failuresClassified(s: Snapshot): void {
  const classes: readonly string[] = FAILURE_CLASSES
  for (const run of s.runs) {
    if (run.state !== 'failed' && run.state !== 'halted') continue
    if (run.failure_phase === null || !classes.includes(run.failure_class ?? '')) {
      throw new InvariantViolation(10, `run ${run.id} is ${run.state} without a phase and class`, brief(run))
    }
  }
}

async function startedPhases(db: Kysely<Database>): Promise<Map<string, Set<string>>> {
  const rows = await db
    .selectFrom('run_events')
    .select(['run_id', 'phase'])
    .where('type', '=', 'phase.started')
    .execute()
  const map = new Map<string, Set<string>>()
  for (const r of rows) {
    if (r.phase === null) continue
    let set = map.get(r.run_id)
    if (set === undefined) map.set(r.run_id, (set = new Set()))
    set.add(r.phase)
  }
  return map
}

/** The fields of a run that explain a violation. */
export function brief(run: RunRow) {
  return {
    id: run.id,
    key: run.key_id,
    kind: run.kind,
    state: run.state,
    phase: run.phase,
    phaseStatus: run.phase_status,
    from: run.from_version,
    to: run.to_version,
    failure:
      run.failure_class === null
        ? null
        : `${run.failure_class} in ${run.failure_phase}: ${run.failure_message}`,
    idempotencyKey: run.idempotency_key,
  }
}
