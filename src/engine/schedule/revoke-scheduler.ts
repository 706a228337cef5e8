import { isKeyrotorError } from '../../errors.js'
import { listDueRevokes } from '../../store/keys-repository.js'
import type { EngineDeps } from '../engine-deps.js'
import { ENGINE_ACTOR } from '../../domain/actors.js'
import type { RunService } from '../runs/rotation-service.js'

/**
 * Starts the follow-up revoke of every retiring version whose grace period is over. The due time
 * lives in the store (key_versions.revoke_due_at), so the timer survives restarts; the
 * idempotency key makes each revoke start once, whichever instance sees it first.
 */
export function createRevokeScheduler(
  deps: Pick<EngineDeps, 'db' | 'now' | 'log'>,
  runs: Pick<RunService, 'request'>,
  options: { intervalMs: number },
) {
  let timer: NodeJS.Timeout | undefined

  async function tick(): Promise<number> {
    const due = await listDueRevokes(deps.db, deps.now().toISOString(), 500)
    let started = 0
    for (const { key_id: keyId, version } of due) {
      try {
        const result = await runs.request({
          keyId,
          kind: 'revoke',
          actor: ENGINE_ACTOR,
          trigger: 'system',
          fromVersion: version,
          idempotencyKey: `revoke:${keyId}:v${version}`,
          reason: 'grace period over',
        })
        if (result.created) started++
      } catch (error) {
        // the key is busy with another run, or halted: the revoke waits for the next tick
        const waits = ['CONCURRENT_ROTATION', 'HALTED', 'PREFLIGHT_REJECTED'] as const
        if (!waits.some((code) => isKeyrotorError(error, code))) {
          deps.log.error({ key: keyId, err: error }, `starting the revoke of v${version} failed`)
        }
      }
    }
    return started
  }

  return {
    tick,
    start(): void {
      const loop = () => {
        tick()
          .catch((error: unknown) => deps.log.error({ err: error }, 'revoke scheduler tick failed'))
          .finally(() => {
            if (timer !== undefined) timer = setTimeout(loop, options.intervalMs)
          })
      }
      timer = setTimeout(loop, options.intervalMs)
    },
    stop(): void {
      clearTimeout(timer)
      timer = undefined
    },
  }
}
