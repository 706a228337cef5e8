import { DRILL_ALGORITHM, DRILL_DEPENDENT, DRILL_KEY } from './faults/fault.js'

/** Short enough that a drill never makes a trainee (or CI) wait for a timer. */
const DEFAULT_POLICY = '{ gracePeriod: 1h, revoke: disable, phaseTimeout: 2s }'

/** keyrotor.yaml of a sandbox: one data key and its one critical dependent. */
export function drillConfigYaml(options: { dependentPort: number; policy?: string; extra?: string }): string {
  const base = `http://127.0.0.1:${options.dependentPort}/keyrotor`
  return `# keyrotor drill sandbox (throwaway)
keys:
  - id: ${DRILL_KEY}
    provider: local
    algorithm: ${DRILL_ALGORITHM}
    owner: payments-team
    aliases: [alias/payments]
    policy: ${options.policy ?? DEFAULT_POLICY}
    dependents:
      - name: ${DRILL_DEPENDENT}
        probe: { http: "${base}/probe" }
        notify: { http: "${base}/notify", secretEnv: PAYMENTS_API_SECRET }
        critical: true
${options.extra ?? ''}`
}
