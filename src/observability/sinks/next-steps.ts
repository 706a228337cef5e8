import type { AlertType } from '../alerts.js'

/**
 * What an on-call engineer does first for each alert type: the seed playbook's steps, short
 * enough for a chat message or a pager, pointing at the runbook and the commands to run.
 */
export const NEXT_STEPS: Record<AlertType, string> = {
  rotation_failed:
    'Read the failure class and phase (`keyrotor runs show RUN`), then `keyrotor runs verify RUN`; retry with `keyrotor runs retry RUN` only once verify passes.',
  rotation_timeout:
    'Check the dependents named in the message (`keyrotor keys show KEY`): are they up and loading the new version? Then `keyrotor runs verify RUN` and `keyrotor runs retry RUN`.',
  dependency_not_ready:
    'A dependent did not answer or did not load the version: fix it (`keyrotor keys show KEY` shows its last answer), then `keyrotor runs verify RUN` and `keyrotor runs retry RUN`.',
  concurrent_rotation:
    'Another run holds the key: nothing to repair. Check the scheduler does not trigger twice (use --idempotency-key) and let the running run finish.',
  unexpected_transition:
    'The provider shows a state keyrotor did not set: the key is frozen. Find who changed it (provider audit log), restore it, then `keyrotor verify KEY` to thaw it.',
  partial_execution:
    'All rotations are halted. Follow docs/runbooks/partial-execution.md: preserve the run, `keyrotor forward-correct KEY`, `keyrotor verify --all`, then `keyrotor halt release` with two approvals.',
  halt_engaged:
    'No rotation runs until the halt is released. Read `keyrotor halt status`, resolve the cause, `keyrotor verify --all`, then `keyrotor halt release` (needs two approvals).',
  validation_failed:
    'The rotation completed but a post-rotation check failed: read the run’s validation (`keyrotor runs show RUN`), fix what it names, then `keyrotor verify KEY`.',
}
