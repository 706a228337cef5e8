/**
 * The drills a trainee can start (CONTRACT.md "Drills"): what each one breaks, and the runbook
 * that recovers it. Pure data, so that `drill list` and `drill start` need no server code.
 */
export const SCENARIOS = [
  'failed-rotation',
  'partial-execution',
  'emergency',
  'concurrent-trigger',
  'unexpected-transition',
  'validation-failure',
  'change-window',
  'config-change',
] as const
export type ScenarioName = (typeof SCENARIOS)[number]

export interface ScenarioInfo {
  name: ScenarioName
  /** One line for `drill list`. */
  title: string
  /** What the trainee is told at `drill start`: the situation, as an on-call engineer meets it. */
  briefing: string
  /** The runbooks to follow, in order, relative to the repository root; the first is the main one. */
  runbooks: readonly string[]
}

export const CATALOG: Record<ScenarioName, ScenarioInfo> = {
  'failed-rotation': {
    name: 'failed-rotation',
    title: 'a dependent was not ready: verify, fix, retry',
    briefing:
      'The nightly rotation of payments-dek failed: payments-api could not load the new version. Recover it.',
    runbooks: ['docs/runbooks/failure-response.md'],
  },
  'partial-execution': {
    name: 'partial-execution',
    title: 'promoted, never confirmed: halt, forward-correct, verify --all, two-person release',
    briefing:
      'A rotation of payments-dek stopped after promote; keyrotor engaged the global halt. Recover forward and release the halt.',
    runbooks: ['docs/runbooks/partial-execution.md', 'docs/runbooks/halt-release.md'],
  },
  emergency: {
    name: 'emergency',
    title: 'a compromised key: emergency request, second approver, watch revocation',
    briefing:
      'payments-dek v1 was found in a public repository. Rotate it as an emergency and make sure v1 is revoked.',
    runbooks: ['docs/runbooks/emergency-rotation.md'],
  },
  'concurrent-trigger': {
    name: 'concurrent-trigger',
    title: 'a scheduler fired twice: recognise the refusal and the alert',
    briefing:
      'The scheduler triggered the rotation of payments-dek twice; one attempt was refused. Find out what happened and close it out.',
    runbooks: ['docs/runbooks/monitoring-and-alerting.md'],
  },
  'unexpected-transition': {
    name: 'unexpected-transition',
    title: "a version disabled behind keyrotor's back: key frozen, verify, repair",
    briefing:
      'Monitoring raised a critical unexpected_transition alert on payments-dek and the key is frozen. Find out what changed and bring the key back.',
    runbooks: ['docs/runbooks/incident-response.md'],
  },
  'validation-failure': {
    name: 'validation-failure',
    title: 'a dependent reports the old version after promote: validation fails',
    briefing:
      'The rotation of payments-dek failed post-rotation validation: payments-api went back to the old version. Recover it.',
    runbooks: ['docs/runbooks/post-rotation-validation.md'],
  },
  'change-window': {
    name: 'change-window',
    title: 'a refusal in a blackout: when the rotation may run',
    briefing:
      'The rotation of payments-dek is refused: a change freeze is on. Get it rotated without breaking the freeze.',
    runbooks: ['docs/runbooks/routine-rotation.md'],
  },
  'config-change': {
    name: 'config-change',
    title: 'config change: propose, review the diff, approve as another person, apply, roll back',
    briefing:
      'The payments team asks for a longer grace period on payments-dek; their file is change.yaml in the drill dir. Put it through change management, and roll back if it breaks anything.',
    runbooks: ['docs/runbooks/change-management.md', 'docs/runbooks/access.md'],
  },
}

export function isScenario(name: string): name is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(name)
}
