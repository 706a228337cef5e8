import fc from 'fast-check'
import type { AsyncCommand } from 'fast-check'
import { isKeyrotorError } from '../../src/errors.js'
import type { ApprovalView } from '../../src/governance/approvals.js'
import type { RunRow } from '../../src/store/tables.js'
import { DEPENDENT_MODES, type DependentMode } from './controllable-dependents.js'
import {
  brief,
  checkInvariants,
  haltEngaged,
  InvariantViolation,
  maxEventId,
  observeHalt,
  type ModelState,
} from './invariants.js'
import { DEPENDENTS, KEY_IDS, type KeyrotorUnderTest } from './keyrotor-under-test.js'

/** How often each thing happened across every fast-check run (the report's counts). */
export const tally = new Map<string, number>()
export function count(what: string, n = 1): void {
  tally.set(what, (tally.get(what) ?? 0) + n)
}

interface Problem {
  code: string
  detail: string
}

type ModelCommand = AsyncCommand<ModelState, KeyrotorUnderTest>

/** What every command ends with: follow the halt, then check every invariant of DESIGN §4. */
async function settle(model: ModelState, system: KeyrotorUnderTest): Promise<void> {
  await observeHalt(system.db, model)
  await checkInvariants(system.db, KEY_IDS, system.dependents.all(), model)
  model.releasedDuringCommand = false
}

/** An answer no operator action should ever get: the API failed, not the request. */
function expectHandled(what: string, res: { status: number; body: unknown }): void {
  if (res.status >= 500) throw new Error(`${what} answered ${res.status}: ${JSON.stringify(res.body)}`)
}

/**
 * The runs a command may act on, those it most likely means first (e.g. failed runs for a
 * retry), so that small generated indices hit them; null when there is no run yet.
 */
async function pickRun(
  system: KeyrotorUnderTest,
  index: number,
  preferred: (run: RunRow) => boolean,
): Promise<RunRow | null> {
  const runs = await system.db.selectFrom('runs').selectAll().orderBy('created_at').orderBy('id').execute()
  const ordered = [...runs.filter(preferred), ...runs.filter((r) => !preferred(r))]
  return ordered.length === 0 ? null : (ordered[index % ordered.length] ?? null)
}

async function failuresOf(system: KeyrotorUnderTest, runId: string): Promise<number> {
  const rows = await system.db
    .selectFrom('run_events')
    .select('id')
    .where('run_id', '=', runId)
    .where('type', '=', 'run.failed')
    .execute()
  return rows.length
}

/** Trigger(key, idempotencyKey?) through the run service, as the rotation route does. */
class Trigger implements ModelCommand {
  constructor(
    readonly key: string,
    readonly idempotencyKey: string | undefined,
  ) {}
  check = () => true
  async run(model: ModelState, system: KeyrotorUnderTest): Promise<void> {
    await system.restartIfCrashed()
    const haltedBefore = await haltEngaged(system.db)
    const earlier = this.idempotencyKey === undefined ? undefined : model.idempotency.get(this.idempotencyKey)
    try {
      const { run, created } = await system.keyrotor.runs.request({
        keyId: this.key,
        kind: 'rotate',
        actor: 'model',
        trigger: 'scheduler',
        idempotencyKey: this.idempotencyKey,
      })
      if (earlier !== undefined) {
        if (created || run.id !== earlier.runId || earlier.key !== this.key) {
          throw new InvariantViolation(7, `idempotency key ${this.idempotencyKey} answered a second run`, {
            earlier,
            answered: brief(run),
            created,
          })
        }
        count('trigger: duplicate suppressed')
      } else {
        if (!created) throw new Error(`a fresh idempotency key answered an existing run ${run.id}`)
        if (haltedBefore)
          throw new InvariantViolation(6, `run ${run.id} was created while halted`, brief(run))
        if (this.idempotencyKey !== undefined) {
          model.idempotency.set(this.idempotencyKey, { runId: run.id, key: this.key })
        }
        count('trigger: run created')
      }
    } catch (error) {
      if (error instanceof InvariantViolation) throw error
      const expected =
        earlier !== undefined
          ? earlier.key !== this.key && isKeyrotorError(error, 'BAD_REQUEST')
          : isKeyrotorError(error, 'HALTED') ||
            (!haltedBefore &&
              (isKeyrotorError(error, 'CONCURRENT_ROTATION') || isKeyrotorError(error, 'PREFLIGHT_REJECTED')))
      if (!expected) throw error
      count(`trigger: refused ${isKeyrotorError(error) ? error.code : '?'}`)
    }
    await settle(model, system)
  }
  toString = () =>
    `Trigger(${this.key}${this.idempotencyKey === undefined ? '' : `, ${this.idempotencyKey}`})`
}

class BreakDependent implements ModelCommand {
  constructor(
    readonly key: string,
    readonly name: string,
    readonly mode: DependentMode,
  ) {}
  check = () => true
  async run(model: ModelState, system: KeyrotorUnderTest): Promise<void> {
    await system.restartIfCrashed()
    system.dependents.setMode(this.key, this.name, this.mode)
    count(`dependent: ${this.mode}`)
    await settle(model, system)
  }
  toString = () => `BreakDependent(${this.key}/${this.name}, ${this.mode})`
}

class HealDependent implements ModelCommand {
  constructor(
    readonly key: string,
    readonly name: string,
  ) {}
  check = () => true
  async run(model: ModelState, system: KeyrotorUnderTest): Promise<void> {
    await system.restartIfCrashed()
    system.dependents.setMode(this.key, this.name, 'healthy')
    await settle(model, system)
  }
  toString = () => `HealDependent(${this.key}/${this.name})`
}

/** Crash: the process dies now, wherever its runs are, and a new one starts on the same data dir. */
class Crash implements ModelCommand {
  check = () => true
  async run(model: ModelState, system: KeyrotorUnderTest): Promise<void> {
    await system.restartIfCrashed()
    const live = await system.db.selectFrom('runs').select('id').where('state', '=', 'running').execute()
    count(`crash: now, ${live.length === 0 ? 'idle' : 'runs in flight'}`)
    await system.crashNow()
    await settle(model, system)
  }
  toString = () => 'Crash'
}

/**
 * CrashAt(point): the process dies the next time the engine reaches the crash point, in whatever
 * command that happens; the next command (or wait) finds it dead and restarts it.
 */
class CrashAt implements ModelCommand {
  constructor(readonly point: string) {}
  check = () => true
  async run(model: ModelState, system: KeyrotorUnderTest): Promise<void> {
    await system.restartIfCrashed()
    system.arm(this.point)
    await settle(model, system)
  }
  toString = () => `CrashAt(${this.point})`
}

/** How many events of `type` the store holds (the report counts in-doubt phases settled). */
export async function countEvents(system: KeyrotorUnderTest, type: string): Promise<number> {
  const rows = await system.db.selectFrom('run_events').select('id').where('type', '=', type).execute()
  return rows.length
}

class Verify implements ModelCommand {
  constructor(readonly pick: number) {}
  check = () => true
  async run(model: ModelState, system: KeyrotorUnderTest): Promise<void> {
    await system.restartIfCrashed()
    // an operator acts on a run that has ended: first let the runs in flight come to rest
    await system.waitForQuiescence()
    const run = await pickRun(system, this.pick, (r) => r.state === 'failed')
    if (run === null) return settle(model, system)
    const res = await system.api<{ passed: boolean } & Problem>('POST', `/v1/runs/${run.id}/verify`)
    expectHandled('verify', res)
    if (res.status === 200) {
      count(`verify: ${res.body.passed ? 'passed' : 'failed'}`)
      const now = await system.db
        .selectFrom('runs')
        .selectAll()
        .where('id', '=', run.id)
        .executeTakeFirstOrThrow()
      if (res.body.passed && now.state === 'failed') {
        model.verifiedAtFailure.set(run.id, await failuresOf(system, run.id))
      }
    } else {
      count(`verify: refused ${res.body.code}`)
    }
    await settle(model, system)
  }
  toString = () => `Verify(run #${this.pick})`
}

class Retry implements ModelCommand {
  constructor(readonly pick: number) {}
  check = () => true
  async run(model: ModelState, system: KeyrotorUnderTest): Promise<void> {
    await system.restartIfCrashed()
    // an operator acts on a run that has ended: first let the runs in flight come to rest
    await system.waitForQuiescence()
    const run = await pickRun(system, this.pick, (r) => r.state === 'failed')
    if (run === null) return settle(model, system)
    const failures = await failuresOf(system, run.id)
    const res = await system.api<Problem>('POST', `/v1/runs/${run.id}/retry`)
    expectHandled('retry', res)
    if (res.status === 200) {
      count('retry: accepted')
      // DESIGN §4.6, as the model saw it: a verify passed while the run stood failed this time
      if (run.state !== 'failed' || model.verifiedAtFailure.get(run.id) !== failures) {
        throw new InvariantViolation(
          5,
          `run ${run.id} was retried without a passed verify since its failure`,
          {
            run: brief(run),
            failures,
            verifiedAtFailure: model.verifiedAtFailure.get(run.id) ?? null,
          },
        )
      }
    } else {
      count(`retry: refused ${res.body.code}`)
    }
    await settle(model, system)
  }
  toString = () => `Retry(run #${this.pick})`
}

class Cancel implements ModelCommand {
  constructor(readonly pick: number) {}
  check = () => true
  async run(model: ModelState, system: KeyrotorUnderTest): Promise<void> {
    await system.restartIfCrashed()
    const run = await pickRun(system, this.pick, (r) => ['queued', 'running'].includes(r.state))
    if (run === null) return settle(model, system)
    const res = await system.api<Problem>('POST', `/v1/runs/${run.id}/cancel`)
    expectHandled('cancel', res)
    count(
      `cancel: ${res.status === 200 ? 'cancelled' : res.status === 202 ? 'requested' : `refused ${res.body.code}`}`,
    )
    await settle(model, system)
  }
  toString = () => `Cancel(run #${this.pick})`
}

/** Halt: an operator engages the global halt through the API (the halt service). */
class Halt implements ModelCommand {
  check = () => true
  async run(model: ModelState, system: KeyrotorUnderTest): Promise<void> {
    await system.restartIfCrashed()
    const res = await system.api<Problem>('POST', '/v1/halt', { reason: 'model: operator halt' })
    expectHandled('halt', res)
    if (res.status === 200) {
      // read after the engaging commit: every later event was written under the halt
      model.halts.push({ from: await maxEventId(system.db), to: null, releasedAfter: null, by: 'operator' })
      count('halt: engaged')
    } else {
      count(`halt: refused ${res.body.code}`)
    }
    await settle(model, system)
  }
  toString = () => 'Halt'
}

/**
 * Release: the real flow (DESIGN §4.8): a release request, which needs verify --all to pass, then
 * a security and a second admin approval; the last one runs verify --all again and releases.
 */
class Release implements ModelCommand {
  check = () => true
  async run(model: ModelState, system: KeyrotorUnderTest): Promise<void> {
    await system.restartIfCrashed()
    const requested = await system.api<ApprovalView & Problem>('POST', '/v1/halt/release', {})
    expectHandled('release request', requested)
    if (requested.status !== 202) {
      count(`release: refused ${requested.body.code}`)
      return settle(model, system)
    }
    const { id } = requested.body
    const first = await system.api<ApprovalView & Problem>(
      'POST',
      `/v1/approvals/${id}/approve`,
      {},
      system.tokens.security,
    )
    expectHandled('security approval', first)
    // read before the releasing commit: every event up to here was written under the halt
    const before = await maxEventId(system.db)
    const last = await system.api<ApprovalView & Problem>(
      'POST',
      `/v1/approvals/${id}/approve`,
      {},
      system.tokens.secondAdmin,
    )
    expectHandled('admin approval', last)
    if (last.status === 200 && last.body.state === 'approved') {
      const open = model.halts.find((h) => h.to === null)
      if (open === undefined) throw new Error('the model saw no halt engaged, yet one was released')
      open.to = before
      open.releasedAfter = await maxEventId(system.db)
      model.releasedDuringCommand = true
      count('release: released')
    } else {
      count(`release: refused ${last.body.code ?? last.body.state}`)
    }
    await settle(model, system)
  }
  toString = () => 'Release'
}

/**
 * The failure playbook in one go: the operator repairs the dependents of a failed run's key,
 * verifies the run, and retries it (each step as Verify and Retry do it, with their checks).
 */
class Recover implements ModelCommand {
  constructor(readonly pick: number) {}
  check = () => true
  async run(model: ModelState, system: KeyrotorUnderTest): Promise<void> {
    await system.restartIfCrashed()
    await system.waitForQuiescence()
    const run = await pickRun(system, this.pick, (r) => r.state === 'failed')
    if (run === null || run.state !== 'failed') return settle(model, system)
    for (const d of DEPENDENTS) if (d.key === run.key_id) system.dependents.setMode(d.key, d.name, 'healthy')
    count('recover: dependents repaired')
    await new Verify(this.pick).run(model, system)
    await new Retry(this.pick).run(model, system)
  }
  toString = () => `Recover(run #${this.pick})`
}

/**
 * ForwardCorrect(key): the recovery of a partial execution (DESIGN §4.8): the admin requests a
 * forward-correct run, a security person approves it, and it may run while the halt is engaged.
 */
class ForwardCorrect implements ModelCommand {
  constructor(readonly key: string) {}
  check = () => true
  async run(model: ModelState, system: KeyrotorUnderTest): Promise<void> {
    await system.restartIfCrashed()
    const requested = await system.api<{ id: string; approvalId?: string | null } & Problem>(
      'POST',
      `/v1/keys/${this.key}/forward-corrections`,
      { reason: 'model: finish the promotion' },
    )
    expectHandled('forward correction', requested)
    if (requested.status !== 201) {
      count(`forward-correct: refused ${requested.body.code}`)
      return settle(model, system)
    }
    const pending = await system.api<ApprovalView[]>('GET', '/v1/approvals?state=pending')
    const approval = pending.body.find(
      (a) => a.action === 'forward-correct' && a.payload.runId === requested.body.id,
    )
    if (approval === undefined)
      throw new Error(`no pending approval for forward correction ${requested.body.id}`)
    const approved = await system.api<Problem>(
      'POST',
      `/v1/approvals/${approval.id}/approve`,
      {},
      system.tokens.security,
    )
    expectHandled('forward-correct approval', approved)
    count(
      `forward-correct: ${approved.status === 200 ? 'approved' : `approval refused ${approved.body.code}`}`,
    )
    await settle(model, system)
  }
  toString = () => `ForwardCorrect(${this.key})`
}

class WaitForQuiescence implements ModelCommand {
  check = () => true
  async run(model: ModelState, system: KeyrotorUnderTest): Promise<void> {
    await system.restartIfCrashed()
    await system.waitForQuiescence()
    await settle(model, system)
  }
  toString = () => 'WaitForQuiescence'
}

/** Where a crash strikes: a phase's numbered points (src/engine/runs/run-executor.ts, the phases). */
export const CRASH_POINTS = [
  'rotate/preflight:after-commit',
  'rotate/create:after-provider',
  'rotate/create:after-commit',
  'rotate/distribute:after-notice',
  'rotate/promote:before',
  'rotate/promote:after-provider',
  'rotate/promote:after-checkpoint',
  'rotate/promote:after-notice',
  'rotate/confirm:before',
  'rotate/validate:before',
  'revoke/retire:after-notice',
  'revoke/revoke:before',
  'revoke/revoke:after-provider',
  'revoke/revoke:after-checkpoint',
] as const

const BROKEN_MODES = DEPENDENT_MODES.filter((m) => m !== 'healthy')
const IDEMPOTENCY_KEYS = ['order-1', 'order-2', 'order-3'] as const

/** How each dependent behaves when a sequence starts: healthy half of the time. */
export function initialModes() {
  const mode = fc.oneof(
    { weight: 5, arbitrary: fc.constant<DependentMode>('healthy') },
    { weight: 5, arbitrary: fc.constantFrom(...BROKEN_MODES) },
  )
  return fc.tuple(...DEPENDENTS.map((d) => mode.map((m) => ({ key: d.key, name: d.name, mode: m }))))
}

/** The command generators, weighted towards what drives runs into trouble. */
export function modelCommands(maxCommands: number) {
  const dependent = fc.constantFrom(...DEPENDENTS)
  const pick = fc.nat({ max: 5 })
  const trigger = fc
    .tuple(fc.constantFrom(...KEY_IDS), fc.option(fc.constantFrom(...IDEMPOTENCY_KEYS), { nil: undefined }))
    .map(([key, idem]) => new Trigger(key, idem))
  const breakDependent = fc
    .tuple(dependent, fc.constantFrom(...BROKEN_MODES))
    .map(([d, mode]) => new BreakDependent(d.key, d.name, mode))
  const crashAt = fc.constantFrom(...CRASH_POINTS).map((p) => new CrashAt(p))
  // fc.commands picks each entry alike: a repeated entry is a weight
  return fc.commands(
    [
      trigger,
      trigger,
      trigger,
      breakDependent,
      breakDependent,
      dependent.map((d) => new HealDependent(d.key, d.name)),
      crashAt,
      crashAt,
      fc.constant(new Crash()),
      pick.map((i) => new Verify(i)),
      pick.map((i) => new Verify(i)),
      pick.map((i) => new Retry(i)),
      pick.map((i) => new Retry(i)),
      pick.map((i) => new Recover(i)),
      pick.map((i) => new Cancel(i)),
      fc.constantFrom(...KEY_IDS).map((k) => new ForwardCorrect(k)),
      fc.constant(new Halt()),
      fc.constant(new Release()),
      fc.constant(new WaitForQuiescence()),
      fc.constant(new WaitForQuiescence()),
      fc.constant(new WaitForQuiescence()),
    ],
    { maxCommands, size: 'max' },
  )
}
