import type { EngineDeps } from '../engine/engine-deps.js'
import type { StartOptions } from './start-options.js'

/** The engine's metrics, also telling `timer` each phase's duration when one is given. */
export function withPhaseTimer(
  metrics: NonNullable<EngineDeps['metrics']>,
  timer: StartOptions['phaseTimer'],
): NonNullable<EngineDeps['metrics']> {
  if (timer === undefined) return metrics
  return {
    phaseFinished(phase, seconds) {
      metrics.phaseFinished(phase, seconds)
      timer(phase, seconds)
    },
    runFinished: (kind, outcome, seconds) => metrics.runFinished(kind, outcome, seconds),
  }
}

/** Fault tests name one crash point; reaching it kills this process as abruptly as a power cut. */
export function crashAt(point: string | undefined): ((reached: string) => void) | undefined {
  if (point === undefined || point === '') return undefined
  return (reached) => {
    if (reached === point) process.kill(process.pid, 'SIGKILL')
  }
}
