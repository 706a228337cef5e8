/** The ports and webhook secrets of the demo's sample services. */
export interface DemoLayout {
  paymentsApi: number
  authIssuer: number
  apiGateway: number
}

export const DEMO_SECRET_ENV = {
  paymentsApi: 'DEMO_PAYMENTS_API_SECRET',
  authIssuer: 'DEMO_AUTH_ISSUER_SECRET',
  apiGateway: 'DEMO_API_GATEWAY_SECRET',
} as const

/** keyrotor.yaml of the demo: a data key and a JWT signing key, each with its dependents. */
export function demoConfigYaml(layout: DemoLayout): string {
  const dependent = (name: string, port: number, secretEnv: string, critical = true) => `
      - name: ${name}
        probe: { http: "http://127.0.0.1:${port}/keyrotor/probe" }
        notify: { http: "http://127.0.0.1:${port}/keyrotor/notify", secretEnv: ${secretEnv} }
        critical: ${critical}`
  return `# keyrotor demo configuration (a throwaway data dir)
keys:
  - id: payments-dek
    provider: local
    algorithm: aes-256-gcm
    owner: payments-team
    aliases: [alias/payments]
    policy: { gracePeriod: 1m, revoke: disable, phaseTimeout: 30s }
    dependents:${dependent('payments-api', layout.paymentsApi, DEMO_SECRET_ENV.paymentsApi)}
  - id: auth-signing
    provider: local
    algorithm: ec-p256
    owner: identity-team
    aliases: [alias/auth-jwt]
    # the demo's JWKS is cached for 2s, so its rotation waits 2s before promote (default 300s)
    policy: { gracePeriod: 1m, revoke: disable, phaseTimeout: 30s, jwksMaxAge: 2s }
    dependents:${dependent('auth-issuer', layout.authIssuer, DEMO_SECRET_ENV.authIssuer)}${dependent('api-gateway', layout.apiGateway, DEMO_SECRET_ENV.apiGateway)}
`
}
