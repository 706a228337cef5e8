import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Keyrotor, StartOptions } from '../app/start-options.js'
import { DEMO_SECRET_ENV, demoConfigYaml } from './demo-config.js'
import { freePort } from './free-port.js'
import { startDataKeyService, startJwtIssuer, startJwtVerifier } from './sample-services.js'
import { createDemoApi, type DemoRun } from './demo-api.js'

export interface DemoOptions {
  port?: number | undefined
  json?: boolean | undefined
  /** Resolves when the demo should stop; default: SIGINT or SIGTERM. */
  until?: Promise<void> | undefined
  /** Where the story is printed; default stdout. */
  print?: ((line: string) => void) | undefined
}

type Start = (options: StartOptions) => Promise<Keyrotor>
type Init = (options: { dataDir: string }) => Promise<{ adminToken: string }>

/**
 * The main job: a throwaway keyrotor with two keys and three sample services built on the
 * dependent SDK, one rotation of each key shown phase by phase, then it serves until stopped and
 * removes its data dir.
 */
export async function runDemoWith(start: Start, init: Init, options: DemoOptions): Promise<void> {
  const say = options.print ?? ((line: string) => process.stdout.write(`${line}\n`))
  const human = options.json !== true ? say : () => undefined
  const dataDir = mkdtempSync(join(tmpdir(), 'keyrotor-demo-'))
  const cleanups: (() => Promise<void>)[] = []
  try {
    const { adminToken } = await init({ dataDir })
    const layout = {
      paymentsApi: await freePort(),
      authIssuer: await freePort(),
      apiGateway: await freePort(),
    }
    const secrets: Record<string, string> = Object.fromEntries(
      Object.values(DEMO_SECRET_ENV).map((name) => [name, randomBytes(24).toString('base64url')]),
    )
    const configPath = join(dataDir, 'keyrotor.yaml')
    writeFileSync(configPath, demoConfigYaml(layout))
    human(`keyrotor demo — data dir ${dataDir} (removed on exit), logs in ${join(dataDir, 'keyrotor.log')}`)

    const keyrotor = await start({
      dataDir,
      configPath,
      port: options.port ?? 8420,
      logFile: join(dataDir, 'keyrotor.log'),
      secretOf: (name) => secrets[name],
      revokeIntervalMs: 1_000,
    })
    cleanups.push(() => keyrotor.close())
    const api = createDemoApi(keyrotor.url, adminToken)
    human(
      `server listening on ${keyrotor.url}; keys payments-dek (aes-256-gcm) and auth-signing (ec-p256) enrolled at v1`,
    )

    const consumer = async (user: string, key: string) => (await api.createToken(user, 'consumer', key)).token
    const common = { keyrotorUrl: keyrotor.url, host: '127.0.0.1' }
    const paymentsApi = await startDataKeyService({
      ...common,
      key: 'payments-dek',
      name: 'payments-api',
      port: layout.paymentsApi,
      token: await consumer('payments-api', 'payments-dek'),
      secret: secrets[DEMO_SECRET_ENV.paymentsApi],
    })
    const issuer = await startJwtIssuer({
      ...common,
      key: 'auth-signing',
      name: 'auth-issuer',
      port: layout.authIssuer,
      token: await consumer('auth-issuer', 'auth-signing'),
      secret: secrets[DEMO_SECRET_ENV.authIssuer],
    })
    const gateway = await startJwtVerifier({
      ...common,
      key: 'auth-signing',
      name: 'api-gateway',
      port: layout.apiGateway,
      secret: secrets[DEMO_SECRET_ENV.apiGateway],
    })
    for (const service of [paymentsApi, issuer, gateway]) cleanups.push(() => service.close())
    human(
      'sample dependents up: payments-api (encrypts), auth-issuer (signs JWTs), api-gateway (verifies JWTs)',
    )

    const oldRecord = paymentsApi.encrypt('card 4111-1111-1111-1111')
    const oldJwt = await issuer.issue({ sub: 'alice' })
    human(
      `before: a record encrypted with payments-dek v${oldRecord.version}; a JWT signed with kid ${kidOf(oldJwt)}`,
    )

    const runs: DemoRun[] = []
    for (const key of ['payments-dek', 'auth-signing']) {
      human('')
      human(`rotating ${key}:`)
      const run = await api.rotateAndFollow(key, `demo-${key}-${Date.now()}`, (e) =>
        human(`  ${e.at.slice(11, 23)}  ${(e.phase ?? '').padEnd(10)} ${e.type.padEnd(16)} ${e.message}`),
      )
      runs.push(run)
      human(
        `  → ${run.state}: v${run.fromVersion} → v${run.toVersion}, validation ${run.validation?.passed === true ? 'passed' : 'FAILED'}`,
      )
    }

    human('')
    human(`after: the old record still decrypts: "${paymentsApi.decrypt(oldRecord)}"`)
    const newRecord = paymentsApi.encrypt('card 5500-0000-0000-0004')
    human(`       new records are encrypted with v${newRecord.version}`)
    await gateway.verify(oldJwt)
    const newJwt = await issuer.issue({ sub: 'bob' })
    await gateway.verify(newJwt)
    human(
      `       the gateway verifies the old JWT (kid ${kidOf(oldJwt)}) and the new one (kid ${kidOf(newJwt)})`,
    )
    human('       the old versions are revoked after their 1m grace period, once no dependent accepts them')
    human('')
    human(`keyrotor is serving at ${keyrotor.url}`)
    human(`console: open ${keyrotor.url}/ in a browser and sign in with the admin token ${adminToken}`)
    human('or try the CLI:')
    human(`  export KEYROTOR_URL=${keyrotor.url} KEYROTOR_TOKEN=${adminToken}`)
    human('  npx keyrotor keys show payments-dek')
    human('  npx keyrotor rotate auth-signing --wait')
    human('Ctrl-C stops the demo and removes its data dir.')
    if (options.json === true)
      say(JSON.stringify({ url: keyrotor.url, consoleUrl: `${keyrotor.url}/`, adminToken, dataDir, runs }))

    await (options.until ?? untilSignal())
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
    rmSync(dataDir, { recursive: true, force: true })
  }
}

function kidOf(jwt: string): string {
  const header = JSON.parse(Buffer.from(jwt.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
    kid?: string
  }
  return header.kid ?? '?'
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
}
