import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parse } from 'yaml'
import { afterEach, describe, expect, it } from 'vitest'
import type { RunView } from '../src/engine/views.js'
import { startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { DIALECTS } from './helpers/stores.js'

/** A dependent that loads and switches to every version it is told about. */
async function startDependent(key: string) {
  const state = { accepts: [1], active: 1 }
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      if (req.url?.endsWith('/probe')) return void res.writeHead(200).end(JSON.stringify({ key, ...state }))
      const notice = JSON.parse(body) as { event: string; version: number }
      if (notice.event === 'key.version.staged') state.accepts = [...state.accepts, notice.version]
      if (notice.event === 'key.version.promoted') state.active = notice.version
      res.writeHead(200).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    yaml: `
      - name: svc
        probe: { http: "http://127.0.0.1:${port}/probe" }
        notify: { http: "http://127.0.0.1:${port}/notify" }`,
    close: () =>
      new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  }
}

const key = (id: string, policy: string, dependents: string) => `
  - id: ${id}
    provider: local
    algorithm: aes-256-gcm
    owner: test-team
    policy: ${policy}
    dependents:${dependents === '' ? ' []' : dependents}`

async function scrape(h: Harness): Promise<string> {
  return (await fetch(`${h.url}/metrics`)).text()
}

function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `))
  return line === undefined ? undefined : Number(line.split(' ')[1])
}

describe.each(DIALECTS)('metrics on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it('reports each key’s active version age and the keys past their rotation period, read from the store on scrape', async () => {
    const dep = await startDependent('payments-dek')
    cleanups.push(() => dep.close())
    const h = await startHarness(
      dialect,
      `keys:${key('payments-dek', '{ gracePeriod: 1h, phaseTimeout: 3s, rotationPeriod: 90d }', dep.yaml)}${key('audit-dek', '{ gracePeriod: 1h, rotationPeriod: 30d }', '')}${key('manual-dek', '{ gracePeriod: 1h }', '')}`,
    )
    cleanups.push(() => h.stop())
    const run = await waitForRun<RunView>(
      h,
      (await h.api<RunView>('POST', '/v1/keys/payments-dek/rotations', {})).body.id,
    )
    expect(run).toMatchObject({ state: 'succeeded', toVersion: 2 })

    const fresh = await scrape(h)
    for (const id of ['payments-dek', 'audit-dek', 'manual-dek']) {
      expect(sample(fresh, 'keyrotor_key_active_version_age_seconds', `{key="${id}"}`)).toBeLessThan(120)
    }
    expect(sample(fresh, 'keyrotor_keys_past_rotation_period')).toBe(0)
    expect(sample(fresh, 'keyrotor_runs_total', '{kind="rotate",outcome="succeeded"}')).toBe(1)

    // 40 days pass for audit-dek (30d period) and manual-dek (no period): only audit-dek is past it
    const longAgo = new Date(Date.now() - 40 * 86_400_000).toISOString()
    await h.keyrotor.store.db
      .updateTable('key_versions')
      .set({ created_at: longAgo })
      .where('key_id', 'in', ['audit-dek', 'manual-dek'])
      .execute()
    const aged = await scrape(h)
    expect(
      sample(aged, 'keyrotor_key_active_version_age_seconds', '{key="audit-dek"}'),
    ).toBeGreaterThanOrEqual(40 * 86_400)
    expect(sample(aged, 'keyrotor_keys_past_rotation_period')).toBe(1)
    expect(sample(aged, 'keyrotor_key_active_version_age_seconds', '{key="payments-dek"}')).toBeLessThan(120)
  })

  it('ships a Grafana dashboard and Prometheus rules that parse and use only metrics /metrics serves', async () => {
    const h = await startHarness(dialect, `keys:${key('payments-dek', '{ gracePeriod: 1h }', '')}`)
    cleanups.push(() => h.stop())
    const served = await scrape(h)
    const exposed = new Set([...served.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]))

    const dashboard = JSON.parse(readFileSync('docs/grafana/keyrotor-dashboard.json', 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[]
    }
    const rules = parse(readFileSync('docs/prometheus/keyrotor-rules.yml', 'utf8')) as {
      groups: { rules: { alert: string; expr: string; labels: { severity: string } }[] }[]
    }
    const alerts = rules.groups.flatMap((g) => g.rules)
    expect(alerts.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'KeyrotorHaltEngaged',
        'KeyrotorPartialExecution',
        'KeyrotorRotationFailures',
        'KeyrotorKeysPastRotationPeriod',
        'KeyrotorPhaseP99TooSlow',
      ]),
    )
    const exprs = [
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
      ...alerts.map((r) => r.expr),
    ]
    const used = new Set(exprs.flatMap((e) => [...e.matchAll(/keyrotor_[a-z_]+/g)].map((m) => m[0])))
    expect(used.size).toBeGreaterThanOrEqual(8)
    for (const name of used) expect(exposed).toContain(name.replace(/_(bucket|sum|count)$/, ''))
  })
})

const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p))
if (PROMTOOL === undefined) {
  if (process.env.CI === 'true')
    throw new Error('CI=true but promtool (Debian package prometheus) is missing')
  console.warn(
    'NOTICE: promtool is not installed (apt-get install prometheus); the promtool suite is skipped',
  )
}
const RULE_TESTS = 'docs/prometheus/keyrotor-rules.test.yml'

/** `name{labels}` of every input series of the rule tests, less the labels a scrape adds. */
function ruleTestSeries(): { name: string; labels: string }[] {
  const file = parse(readFileSync(RULE_TESTS, 'utf8')) as { tests: { input_series: { series: string }[] }[] }
  return file.tests.flatMap((t) =>
    t.input_series.map(({ series }) => {
      const [, name = '', inner = ''] = /^([a-z_]+)\{(.*)\}$/.exec(series) ?? []
      const labels = inner
        .split(',')
        .filter((l) => !/^(job|instance)=/.test(l))
        .join(',')
      return { name, labels: labels === '' ? '' : `{${labels}}` }
    }),
  )
}

describe.runIf(PROMTOOL !== undefined)('metrics read by Prometheus’s own tools', () => {
  let h: Harness | undefined
  let dep: Awaited<ReturnType<typeof startDependent>> | undefined
  afterEach(async () => {
    await h?.stop()
    await dep?.close()
  })

  it('exposes every rule-tested series from the first scrape, passes promtool check metrics and test rules, and fills every dashboard metric after one rotation', async () => {
    dep = await startDependent('payments-dek')
    const hook = createServer((_req, res) => res.writeHead(204).end())
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve))
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`
    h = await startHarness(
      'sqlite',
      `keys:${key('payments-dek', '{ gracePeriod: 1h, phaseTimeout: 3s, rotationPeriod: 90d }', dep.yaml)}
notifications:
  alerts:
    - { type: webhook, url: "${hookUrl}" }
  incidents:
    - { type: jira, url: "${hookUrl}", project: OPS, user: ops@acme.example, tokenEnv: JIRA_TOKEN }
    - { type: github, url: "${hookUrl}", repo: acme/ops, tokenEnv: GH_TOKEN }`,
    )
    try {
      // before anything happened: the counters the rules watch are there, at 0
      const first = await scrape(h)
      for (const { name, labels } of ruleTestSeries()) {
        const value = sample(first, name, labels)
        expect(value, `${name}${labels}`).toBeDefined()
        if (name.endsWith('_total')) expect(value, `${name}${labels}`).toBe(0)
      }
      for (const type of ['partial_execution', 'rotation_failed'])
        expect(sample(first, 'keyrotor_alerts_raised_total', `{type="${type}"}`)).toBe(0)
      expect(
        sample(first, 'keyrotor_notifications_total', '{channel="alerts",sink="webhook",outcome="failed"}'),
      ).toBe(0)

      const run = await waitForRun<RunView>(
        h,
        (await h.api<RunView>('POST', '/v1/keys/payments-dek/rotations', {})).body.id,
      )
      expect(run.state).toBe('succeeded')
      const after = await scrape(h)
      const check = spawnSync(PROMTOOL as string, ['check', 'metrics'], { input: after, encoding: 'utf8' })
      expect(check.stdout + check.stderr).toBe('')
      expect(check.status).toBe(0)

      const dashboard = JSON.parse(readFileSync('docs/grafana/keyrotor-dashboard.json', 'utf8')) as {
        panels: { targets?: { expr: string }[] }[]
      }
      const used = new Set(
        dashboard.panels
          .flatMap((p) => (p.targets ?? []).map((t) => t.expr))
          .flatMap((e) => [...e.matchAll(/keyrotor_[a-z_]+/g)].map((m) => m[0])),
      )
      for (const name of used) {
        expect(
          after.split('\n').some((l) => l.startsWith(name)),
          `samples of ${name}`,
        ).toBe(true)
      }
    } finally {
      hook.close()
    }
    const rules = spawnSync(PROMTOOL as string, ['test', 'rules', RULE_TESTS], { encoding: 'utf8' })
    expect(rules.stdout, rules.stderr).toContain('SUCCESS')
    expect(rules.status).toBe(0)
  })
})
