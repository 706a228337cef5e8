/**
 * Every point where a crash matters on the rotate and revoke paths: before each phase acts, after
 * each provider call, each notice round, each durable checkpoint and each phase's commit. The
 * server process kills itself with SIGKILL there (KEYROTOR_CRASH_POINT), is restarted, and the
 * run must end as if nothing happened, or halted with a partial-execution alert.
 */
export const ROTATE_CRASH_POINTS = [
  'rotate/preflight:before',
  'rotate/preflight:after-commit',
  'rotate/create:before',
  'rotate/create:after-provider',
  'rotate/create:after-commit',
  'rotate/distribute:before',
  'rotate/distribute:after-notice',
  'rotate/distribute:after-commit',
  'rotate/promote:before',
  'rotate/promote:after-provider',
  'rotate/promote:after-checkpoint',
  'rotate/promote:after-notice',
  'rotate/promote:after-commit',
  'rotate/confirm:before',
  'rotate/confirm:after-commit',
  'rotate/validate:before',
  'rotate/validate:after-commit',
]

export const REVOKE_CRASH_POINTS = [
  'revoke/preflight:before',
  'revoke/preflight:after-commit',
  'revoke/retire:before',
  'revoke/retire:after-notice',
  'revoke/retire:after-commit',
  'revoke/revoke:before',
  'revoke/revoke:after-provider',
  'revoke/revoke:after-checkpoint',
  'revoke/revoke:after-notice',
  'revoke/revoke:after-commit',
]

/** The emergency path runs the rotate phases: the same points, under its own kind. */
export const EMERGENCY_CRASH_POINTS = ROTATE_CRASH_POINTS.map((p) =>
  p.replace('rotate/', 'emergency-rotate/'),
)

export const FORWARD_CORRECT_CRASH_POINTS = [
  'forward-correct/preflight:before',
  'forward-correct/preflight:after-commit',
  'forward-correct/promote:before',
  'forward-correct/promote:after-provider',
  'forward-correct/promote:after-checkpoint',
  'forward-correct/promote:after-notice',
  'forward-correct/promote:after-commit',
  'forward-correct/confirm:before',
  'forward-correct/confirm:after-commit',
  'forward-correct/validate:before',
  'forward-correct/validate:after-commit',
]
