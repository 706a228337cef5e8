import { randomBytes } from 'node:crypto'
import { freePort } from '../../src/demo/free-port.js'

/** A dependent declared in a test's keyrotor.yaml, on a port reserved before the server starts. */
export interface PlannedDependent {
  name: string
  port: number
  secretEnv: string
  secret: string
  probeUrl: string
  notifyUrl: string
}

export async function planDependent(name: string): Promise<PlannedDependent> {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}/keyrotor`
  return {
    name,
    port,
    secretEnv: `SECRET_${name.toUpperCase().replace(/-/g, '_')}`,
    secret: randomBytes(24).toString('base64url'),
    probeUrl: `${base}/probe`,
    notifyUrl: `${base}/notify`,
  }
}

export function secretsOf(dependents: readonly PlannedDependent[]): Record<string, string> {
  return Object.fromEntries(dependents.map((d) => [d.secretEnv, d.secret]))
}

/** keyrotor.yaml for one key and its dependents. */
export function keyYaml(options: {
  id: string
  algorithm: string
  dependents: readonly PlannedDependent[]
  policy?: string
  aliases?: string[]
}): string {
  const deps = options.dependents
    .map(
      (d) => `
      - name: ${d.name}
        probe: { http: "${d.probeUrl}" }
        notify: { http: "${d.notifyUrl}", secretEnv: ${d.secretEnv} }`,
    )
    .join('')
  return `
  - id: ${options.id}
    provider: local
    algorithm: ${options.algorithm}
    owner: test-team
    aliases: [${(options.aliases ?? [`alias/${options.id}`]).join(', ')}]
    policy: ${options.policy ?? '{ gracePeriod: 1h, phaseTimeout: 3s }'}
    dependents:${deps.length === 0 ? ' []' : deps}`
}
