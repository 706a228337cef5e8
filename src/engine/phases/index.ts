import type { Phase } from '../../domain/phases.js'
import type { RunKind } from '../../domain/runs.js'
import type { PhaseHandler, PhaseSettler } from '../runs/phase-context.js'
import { confirm } from './confirm.js'
import { create } from './create.js'
import { distribute } from './distribute.js'
import { preflightForwardCorrect } from './preflight-forward-correct.js'
import { preflightRevoke, preflightRotate } from './preflight.js'
import { promote } from './promote.js'
import { retire, revoke } from './revoke.js'
import { settleCreate, settlePromote, settleRevoke } from './settle.js'
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
  if (kind === 'forward-correct' && phase === 'preflight') return preflightForwardCorrect
  return ROTATION[phase]
}

/** How to settle an interrupted phase that changes state; phases without effects just run again. */
export function phaseSettler(kind: RunKind, phase: Phase): PhaseSettler | undefined {
  if (phase === 'create') return settleCreate
  if (phase === 'promote') return settlePromote
  if (phase === 'revoke' && kind === 'revoke') return settleRevoke
  return undefined
}
