import { traineeAudit, type DrillFacts } from './facts.js'

/** Retries keyrotor refused because no verify had passed since the failure. */
export function retriesBeforeVerify(facts: DrillFacts): string[] {
  return traineeAudit(facts, 'run.retry_refused').map(
    (r) =>
      `${r.at} ${r.actor} retried run ${String(r.details?.runId)} before a verify had passed since its failure: ` +
      'keyrotor refused it. No blind retries: `keyrotor runs verify RUN`, then `runs retry RUN`.',
  )
}

/** Halt releases asked for while verify --all failed, or before the trainee ran it. */
export function releasesBeforeVerify(facts: DrillFacts): string[] {
  const refused = traineeAudit(facts, 'halt.release_refused').map(
    (r) =>
      `${r.at} ${r.actor} asked to release the halt while verify --all failed (${String(r.details?.failing)}): ` +
      'refused. Correct the key forward, run `keyrotor verify --all`, then release.',
  )
  const requests = traineeAudit(facts, 'approval.requested', (r) => r.details?.action === 'halt.release')
  const early = requests
    .filter(
      (request) =>
        traineeAudit(
          facts,
          'keys.verified',
          (v) => v.details?.purpose === 'verify --all' && v.details.passed === true && v.seq < request.seq,
        ).length === 0,
    )
    .map(
      (r) =>
        `${r.at} ${r.actor} asked to release the halt before running \`keyrotor verify --all\` themselves: ` +
        'look at every key before you ask two people to lift the stop switch.',
    )
  return [...refused, ...early]
}
