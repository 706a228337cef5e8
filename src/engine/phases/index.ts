import type { Phase } from '../../domain/phases.js'
import type { RunKind } from '../../domain/runs.js'
import type { PhaseHandler } from '../phase-context.js'
import { confirm } from './confirm.js'
import { create } from './create.js'
import { distribute } from './distribute.js'
import { preflightRevoke, preflightRotate } from './preflight.js'
import { promote } from './promote.js'
import { retire, revoke } from './revoke.js'
import { validate } from './validate.js'

const ROTATION: Record<Phase, PhaseHandler> = {
  preflight: preflightRotate,
  create,
  distribute,
  promote,
  confirm,
  validate,
  retire,
  revoke,
}

/** The handler of one phase of one kind of run (preflight differs between rotate and revoke). */
export function phaseHandler(kind: RunKind, phase: Phase): PhaseHandler {
  if (kind === 'revoke' && phase === 'preflight') return preflightRevoke
  return ROTATION[phase]
}
