import type { ScenarioName } from '../catalog.js'
import { score, type DrillFacts, type DrillReport, type Scorer } from './facts.js'
import { changeWindow, concurrentTrigger, configChange, emergency } from './governance-scorers.js'
import {
  failedRotation,
  partialExecution,
  unexpectedTransition,
  validationFailure,
} from './recovery-scorers.js'

/** Exhaustive: a scenario without a scorer does not compile. */
const SCORERS: Record<ScenarioName, Scorer> = {
  'failed-rotation': failedRotation,
  'partial-execution': partialExecution,
  emergency,
  'concurrent-trigger': concurrentTrigger,
  'unexpected-transition': unexpectedTransition,
  'validation-failure': validationFailure,
  'change-window': changeWindow,
  'config-change': configChange,
}

export function scoreDrill(facts: DrillFacts): DrillReport {
  return score(facts.state.scenario, SCORERS[facts.state.scenario], facts)
}

export type { DrillFacts, DrillReport } from './facts.js'
