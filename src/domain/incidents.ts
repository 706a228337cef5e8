import { KeyrotorError } from '../errors.js'

export const INCIDENT_SEVERITIES = ['critical', 'high', 'medium', 'low'] as const
export type IncidentSeverity = (typeof INCIDENT_SEVERITIES)[number]

/** open → closed, with a root cause analysis; a closed incident stays closed. */
export const INCIDENT_STATES = ['open', 'closed'] as const
export type IncidentState = (typeof INCIDENT_STATES)[number]

const ARROWS: Record<IncidentState, readonly IncidentState[]> = { open: ['closed'], closed: [] }

/**
 * Checks a close of `incident` with `rca`: BAD_REQUEST without an RCA, CONFLICT when it is not
 * open (closed already, by `closedBy`).
 */
export function assertClosable(
  incident: { id: string; state: IncidentState; closedBy: string | null },
  rca: string,
): void {
  if (rca.trim() === '') throw new KeyrotorError('BAD_REQUEST', 'closing an incident needs an RCA')
  if (!ARROWS[incident.state].includes('closed')) {
    throw new KeyrotorError(
      'CONFLICT',
      `incident ${incident.id} is closed already (by ${incident.closedBy ?? '-'})`,
    )
  }
}
