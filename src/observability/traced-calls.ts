import { SpanKind } from '@opentelemetry/api'
import type { DependentClient } from '../dependents/dependent-client.js'
import type { KeyProvider } from '../providers/key-provider.js'
import type { Tracing } from './tracing.js'

/**
 * A child span for every provider call: `provider.<method>` with the provider kind, key and
 * version. Only names and numbers become attributes: arguments and answers (material, JWKs)
 * never do.
 */
export function tracedProviders<R extends { get(name: string): KeyProvider }>(
  registry: R,
  tracing: Tracing,
): R {
  if (!tracing.enabled) return registry
  return {
    ...registry,
    get(name: string) {
      const provider = registry.get(name)
      return new Proxy(provider, {
        get(target, property, receiver) {
          const value: unknown = Reflect.get(target, property, receiver)
          if (typeof value !== 'function' || typeof property !== 'string') return value
          return (...args: unknown[]) => {
            const [ref, version] = args as [{ keyId?: unknown } | undefined, unknown]
            const attributes: Record<string, string | number> = {
              'keyrotor.provider': provider.kind,
              'keyrotor.provider.instance': name,
            }
            if (typeof ref?.keyId === 'string') attributes['keyrotor.key'] = ref.keyId
            if (typeof version === 'number') attributes['keyrotor.version'] = version
            return tracing.span(`provider.${property}`, attributes, async () =>
              (value as (...a: unknown[]) => unknown).apply(target, args),
            )
          }
        },
      })
    },
  }
}

/** A client span for every probe and notice; the request carries `traceparent` (see main.ts). */
export function tracedDependents(client: DependentClient, tracing: Tracing): DependentClient {
  if (!tracing.enabled) return client
  return {
    probe: (target, signal) =>
      tracing.span(
        'dependent.probe',
        { 'keyrotor.dependent': target.name, 'keyrotor.key': target.key },
        () => client.probe(target, signal),
        SpanKind.CLIENT,
      ),
    notify: (target, notice, signal) =>
      tracing.span(
        'dependent.notice',
        {
          'keyrotor.dependent': target.name,
          'keyrotor.key': target.key,
          'keyrotor.notice.event': notice.event,
          'keyrotor.version': notice.version,
        },
        () => client.notify(target, notice, signal),
        SpanKind.CLIENT,
      ),
  }
}

/** The run as the executor is handed it: what names its trace. */
interface TracedRun {
  id: string
  kind: string
  key_id: string
  correlation_id: string
}

/** One trace per run execution: its phases, provider calls, probes and notices inside it. */
export function tracedRuns<Run extends TracedRun, Result>(
  executor: { execute(run: Run, signal: AbortSignal): Promise<Result> },
  tracing: Tracing,
): { execute(run: Run, signal: AbortSignal): Promise<Result> } {
  return {
    execute: (run, signal) =>
      tracing.span(
        `run ${run.kind}`,
        {
          'keyrotor.run_id': run.id,
          'keyrotor.run.kind': run.kind,
          'keyrotor.key': run.key_id,
          'keyrotor.correlation_id': run.correlation_id,
        },
        () => executor.execute(run, signal),
      ),
  }
}
