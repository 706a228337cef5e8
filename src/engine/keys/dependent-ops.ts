import { deliverUntil, probeUntil } from '../../dependents/delivery.js'
import type { DependentTarget, NoticeEvent, ProbeAnswer } from '../../dependents/dependent-client.js'
import { KeyrotorError } from '../../errors.js'
import { listVersions } from '../../store/keys-repository.js'
import type { PhaseContext } from '../runs/phase-context.js'

/** Sends one notice to every dependent that takes notices, each retried until the phase deadline. */
export async function notifyAll(ctx: PhaseContext, event: NoticeEvent, version: number): Promise<void> {
  const row = (await listVersions(ctx.db, ctx.key.id)).find((v) => v.version === version)
  const notice = {
    event,
    key: ctx.key.id,
    version,
    runId: ctx.run.id,
    correlationId: ctx.run.correlation_id,
    deadline: ctx.deadline.toISOString(),
    ...(row === undefined ? {} : { providerRef: row.provider_ref }),
  }
  const targets = ctx.key.dependents.filter((d) => d.notify !== undefined)
  await settleAll(
    targets.map(async (target) => {
      await deliverUntil(ctx.dependents, target, notice, { deadline: ctx.deadline, signal: ctx.signal })
      ctx.observe({ name: target.name, notice: `${event} v${version}` })
      ctx.note('notice.delivered', `${event} v${version} delivered to ${target.name}`, {
        dependent: target.name,
        event,
        version,
      })
    }),
  )
}

/** Polls the given dependents until each answer satisfies `predicate`, or the phase deadline. */
export async function waitForAll(
  ctx: PhaseContext,
  targets: readonly DependentTarget[],
  predicate: (answer: ProbeAnswer) => boolean,
  wanted: string,
): Promise<ProbeAnswer[]> {
  return settleAll(
    targets.map(async (target) => {
      const answer = await probeUntil(ctx.dependents, target, predicate, {
        deadline: ctx.deadline,
        signal: ctx.signal,
        wanted,
        onError: (error) => ctx.observe({ name: target.name, error: messageOf(error) }),
      })
      ctx.observe({ name: target.name, answer })
      ctx.note(
        'probe.answer',
        `${target.name} accepts [${answer.accepts.join(', ')}], active ${answer.active ?? '—'}`,
        {
          dependent: target.name,
          accepts: answer.accepts,
          active: answer.active,
        },
      )
      return answer
    }),
  )
}

/** One probe of every dependent; each answer or error is recorded. */
export async function probeAllOnce(ctx: PhaseContext): Promise<Map<string, ProbeAnswer | Error>> {
  const results = new Map<string, ProbeAnswer | Error>()
  // one probe each, but never past the phase deadline: a hanging dependent is an error, not a wait
  const signal = AbortSignal.any([
    ctx.signal,
    AbortSignal.timeout(Math.max(1, ctx.deadline.getTime() - Date.now())),
  ])
  await Promise.all(
    ctx.key.dependents.map(async (target) => {
      try {
        const answer = await ctx.dependents.probe(target, signal)
        ctx.observe({ name: target.name, answer })
        results.set(target.name, answer)
      } catch (error) {
        ctx.observe({ name: target.name, error: messageOf(error) })
        results.set(target.name, error instanceof Error ? error : new Error(String(error)))
      }
    }),
  )
  return results
}

/** Waits for every task; if any failed, throws the first failure with every failure in its message. */
async function settleAll<T>(tasks: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(tasks)
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failures.length === 0) return results.map((r) => (r as PromiseFulfilledResult<T>).value)
  const first = failures[0]?.reason as unknown
  if (failures.length === 1) throw first
  const message = failures.map((f) => messageOf(f.reason)).join('; ')
  if (first instanceof KeyrotorError)
    throw new KeyrotorError(first.code, message, { retryable: first.retryable })
  throw new Error(message)
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
