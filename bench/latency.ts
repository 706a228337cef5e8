import { runInit, startKeyrotor } from '../src/main.js'
import type { DialectName } from '../src/store/dialect.js'
import { createBenchStore, isVerifyOnly, keyIdOf } from './bench-store.js'
import { latencyFigures, WARM_UP } from './graphile-chains.js'
import { createInProcessDependents } from './in-process-dependents.js'
import type { Percentiles } from './percentiles.js'

export interface LatencyResult {
  dialect: DialectName
  rotations: number
  /** From `runs.request` to the engine's "run succeeded" (logged right after that commit), ms. */
  ms: Percentiles & { min: number }
}

/**
 * The unloaded latency of one rotation: a worker of concurrency 1 and one rotation at a time, its
 * dependents in-process and instant, so every millisecond is the orchestrator's (engine, store,
 * provider). The end is the engine's "run succeeded" log line, written at once after the commit
 * that records the success: an exact end, with no polling delay added. Logging is at `info`, as a
 * server logs.
 */
export async function measureLatency(options: {
  dialect: DialectName
  rotations: number
  databaseUrl: string
  progress: (message: string) => void
}): Promise<LatencyResult> {
  const { dialect, rotations } = options
  const keys = rotations + WARM_UP
  const store = await createBenchStore(dialect, keys, options.databaseUrl)
  let succeeded: ((runId: string) => void) | undefined
  try {
    await runInit(store.options)
    const keyrotor = await startKeyrotor({
      ...store.options,
      configPath: store.configPath,
      listen: false,
      logLevel: 'info',
      logDestination: {
        write(line: string) {
          if (!line.includes('"msg":"run succeeded"')) return
          const runId = /"runId":"([^"]+)"/.exec(line)?.[1]
          if (runId !== undefined) succeeded?.(runId)
        },
      },
      dependentClient: createInProcessDependents({ verifyOnly: isVerifyOnly }),
      concurrency: 1,
    })
    const ms: number[] = []
    try {
      options.progress(`${dialect}: unloaded latency, ${rotations} rotations one at a time`)
      for (let i = 0; i < keys; i++) {
        const started = performance.now()
        const wanted = { runId: '' }
        const done = new Promise<void>((resolve) => {
          succeeded = (id) => {
            if (id === wanted.runId) resolve()
          }
        })
        const request = await keyrotor.runs.request({
          keyId: keyIdOf(i),
          kind: 'rotate',
          actor: 'bench',
          trigger: 'manual',
        })
        const runId = (wanted.runId = request.run.id)
        // the success may be logged before `request` resolves here: look at the row then
        if (
          (
            await keyrotor.store.db
              .selectFrom('runs')
              .select('state')
              .where('id', '=', runId)
              .executeTakeFirst()
          )?.state !== 'succeeded'
        )
          await done
        if (i >= WARM_UP) ms.push(performance.now() - started)
      }
    } finally {
      await keyrotor.close()
    }
    return { dialect, rotations, ms: latencyFigures(ms) }
  } finally {
    await store.drop()
  }
}
