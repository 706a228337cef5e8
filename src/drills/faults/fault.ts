import type { DataKeyService } from '../../demo/sample-services.js'
import type { RunView } from '../../engine/views.js'
import type { NoticeResult } from '../../dependent-sdk/index.js'
import type { Keyrotor } from '../../app/start-options.js'

import { DRILL_KEY } from '../drill-key.js'

export { DRILL_ALGORITHM, DRILL_DEPENDENT, DRILL_KEY } from '../drill-key.js'

export type Facts = Record<string, string | number | null>

/** What a fault may touch in its sandbox: the server, the simulated dependent, the API. */
export interface SandboxContext {
  dir: string
  keyrotor: Pick<Keyrotor, 'engine'>
  service: DataKeyService
  /** Calls the API as the sandbox's admin, or as its scheduler (an operator token). */
  api<T>(
    method: string,
    path: string,
    body?: unknown,
    as?: 'admin' | 'scheduler',
  ): Promise<{ status: number; body: T }>
  /** Long-polls a run until it ends. */
  waitForRun(id: string): Promise<RunView>
  /** keyrotor.yaml as the sandbox started with it, and the ports it knows. */
  configYaml: string
  dependentPort: number
}

/** The fault of one scenario: the config it needs, how it is injected, and its out-of-band repair. */
export interface Fault {
  /** `policy:` of the drill key, and any top-level config (blackouts) the scenario needs. */
  config?(startedAt: Date): { policy?: string; extra?: string }
  /** Puts the fault in place; resolves when the trainee can start, with the facts the check needs. */
  inject(ctx: SandboxContext): Promise<Facts>
  /** What a person does outside keyrotor (a dependent fixed, a provider state restored): `drill fix`. */
  fix?(ctx: SandboxContext): Promise<string>
}

/** Triggers a rotation the way the scheduler would and returns the run (or the refusal). */
export async function schedulerTrigger(
  ctx: SandboxContext,
  idempotencyKey: string,
): Promise<{ status: number; body: RunView & { code?: string } }> {
  return ctx.api<RunView & { code?: string }>(
    'POST',
    `/v1/keys/${DRILL_KEY}/rotations`,
    { idempotencyKey, reason: 'scheduled rotation' },
    'scheduler',
  )
}

/** The event of a notice body, for faults that treat one event differently. */
export function eventOf(body: string): string {
  return (JSON.parse(body) as { event?: string }).event ?? ''
}

/** Replaces the dependent's notice handling; `decide` answers a notice itself or passes it on. */
export function interceptNotices(
  service: DataKeyService,
  decide: (event: string) => NoticeResult | 'pass',
): void {
  const original = service.dependent.handleNotice.bind(service.dependent)
  service.dependent.handleNotice = async (body, headers) => {
    const answer = decide(eventOf(body))
    return answer === 'pass' ? original(body, headers) : answer
  }
}

export async function expectRun(ctx: SandboxContext, id: string, state: string): Promise<RunView> {
  const run = await ctx.waitForRun(id)
  if (run.state !== state) {
    throw new Error(
      `drill setup: run ${id} ended ${run.state}, expected ${state}: ${run.failure?.message ?? ''}`,
    )
  }
  return run
}
