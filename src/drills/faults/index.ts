import type { ScenarioName } from '../catalog.js'
import { changeWindow } from './change-window.js'
import { concurrentTrigger } from './concurrent-trigger.js'
import { configChange } from './config-change.js'
import { emergency } from './emergency.js'
import { failedRotation } from './failed-rotation.js'
import type { Fault } from './fault.js'
import { partialExecution } from './partial-execution.js'
import { unexpectedTransition } from './unexpected-transition.js'
import { validationFailure } from './validation-failure.js'

/** Exhaustive: a scenario in the catalog without a fault does not compile. */
export const FAULTS: Record<ScenarioName, () => Fault> = {
  'failed-rotation': failedRotation,
  'partial-execution': partialExecution,
  emergency,
  'concurrent-trigger': concurrentTrigger,
  'unexpected-transition': unexpectedTransition,
  'validation-failure': validationFailure,
  'change-window': changeWindow,
  'config-change': configChange,
}
