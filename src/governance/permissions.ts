import { KeyrotorError } from '../errors.js'
import type { Role } from '../domain/roles.js'

/** Everything a token can be allowed to do. http/ checks one of these on every route. */
export const ACTIONS = [
  'keys.read',
  'keys.verify',
  'runs.read',
  'rotation.trigger',
  'rotation.forward-correct',
  'runs.verify',
  'runs.retry',
  'runs.cancel',
  'alerts.read',
  'alerts.ack',
  'halt.read',
  'halt.engage',
  'halt.release',
  'approvals.read',
  'approvals.decide',
  'incidents.read',
  'incidents.close',
  'timeline.read',
  'config.read',
  'config.validate',
  'config.propose',
  'config.apply',
  'audit.read',
  'tokens.manage',
  'material.read',
] as const
export type Action = (typeof ACTIONS)[number]

const READERS = ['viewer', 'operator', 'security', 'admin'] as const
// The playbook's operator: triggers approved workflows, views status and logs, acknowledges
// alerts — nothing more. Verify is a read-only consistency check; retry and cancel only drive a
// run that was already approved forward or stop it, so they count as triggering.
const TRIGGERERS = ['operator', 'security', 'admin'] as const
const GUARDIANS = ['security', 'admin'] as const

/**
 * Who may do what. Exhaustive over ACTIONS, so a new action without a decision does not compile.
 * Approving is further restricted by approvals (never the requester, required roles per action),
 * and material.read by the consumer's key binding (see authorize).
 */
export const PERMISSIONS: Readonly<Record<Action, readonly Role[]>> = {
  'keys.read': READERS,
  'keys.verify': TRIGGERERS,
  'runs.read': READERS,
  'rotation.trigger': TRIGGERERS,
  'rotation.forward-correct': TRIGGERERS,
  'runs.verify': TRIGGERERS,
  'runs.retry': TRIGGERERS,
  'runs.cancel': TRIGGERERS,
  'alerts.read': READERS,
  'alerts.ack': TRIGGERERS,
  'halt.read': READERS,
  'halt.engage': GUARDIANS,
  'halt.release': GUARDIANS,
  'approvals.read': READERS,
  'approvals.decide': GUARDIANS,
  'incidents.read': READERS,
  'incidents.close': GUARDIANS,
  'timeline.read': READERS,
  'config.read': READERS,
  'config.validate': READERS,
  'config.propose': ['admin'],
  'config.apply': ['admin'],
  'audit.read': READERS,
  'tokens.manage': ['admin'],
  'material.read': ['consumer'],
}

export function can(role: Role, action: Action): boolean {
  return PERMISSIONS[action].includes(role)
}

/** The caller as authorization sees it. */
export interface Caller {
  user: string
  role: Role
  /** The key a consumer token is bound to; null for people. */
  keyId: string | null
}

/**
 * Throws FORBIDDEN unless the caller may do `action`; for material.read, also unless the
 * consumer is bound to `target.keyId`. The message says what was refused, never any secret.
 */
export function authorize(caller: Caller, action: Action, target: { keyId?: string } = {}): void {
  if (!can(caller.role, action)) {
    throw new KeyrotorError('FORBIDDEN', `${caller.user} (${caller.role}) may not ${action}`)
  }
  if (action === 'material.read' && (target.keyId === undefined || caller.keyId !== target.keyId)) {
    throw new KeyrotorError(
      'FORBIDDEN',
      `${caller.user} is bound to key ${caller.keyId ?? '(none)'}, not ${target.keyId ?? '(none)'}`,
    )
  }
}
