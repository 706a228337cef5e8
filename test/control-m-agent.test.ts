import type { ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDataKeyService } from '../src/demo/sample-services.js'
import { exitOf, runCliProcess, spawnCli } from './helpers/cli.js'
import { serveWithSlowProbes, until } from './helpers/instances.js'
import { keyYaml, planDependent, secretsOf, type PlannedDependent } from './helpers/sample-dependents.js'
import { call } from './helpers/http.js'
import { createServerFixture, type ServerFixture } from './helpers/harness.js'
import { DIALECTS } from './helpers/stores.js'

/**
 * A Control-M agent, simulated: the built CLI spawned as a Command job would be (environment,
 * arguments, exit code, output), killed mid-run as an agent kills a job, and rerun with the same
 * order id, as Control-M's Rerun action does with %%RUNCOUNT raised.
 */

const RESULT = /^KEYROTOR-RESULT=(\w+) run=(\S+) exit=(\d+)$/
const KEYS = ['ctm-term', 'ctm-kill', 'ctm-refused', 'ctm-slow'] as const
const POLICY = '{ gracePeriod: 1h, phaseTimeout: 20s }'

interface Job {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
}

function spawnJob(args: string[], env: Record<string, string>): Job {
  const child = spawnCli(args, env)
  let out = ''
  let err = ''
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()))
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()))
  return { child, stdout: () => out, stderr: () => err }
}

function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1) ?? ''
}

describe.each(DIALECTS)('a Control-M job running keyrotor on %s', (dialect) => {
  let fixture: ServerFixture
  let url = ''
  let env: Record<string, string> = {}
  let deps: Record<string, PlannedDependent> = {}
  const closers: (() => Promise<void>)[] = []

  /** The sample service of `key`; its probes answer after `delayMs`, so a run lasts a few seconds. */
  async function serveDependent(key: string, delayMs: number): Promise<void> {
    const dep = deps[key] as PlannedDependent
    const { token } = (
      await call<{ token: string }>(url, fixture.adminToken, 'POST', '/v1/tokens', {
        user: dep.name,
        role: 'consumer',
        key,
      })
    ).body
    const service = await startDataKeyService({ key, keyrotorUrl: url, token, secret: dep.secret, port: 0 })
    closers.push(() => service.close())
    const slow = await serveWithSlowProbes(service.dependent.handler, dep.port, delayMs)
    closers.push(() => slow.close())
  }

  /** Every run of the key as the store holds it, oldest first. */
  async function runsOf(
    key: string,
  ): Promise<
    { id: string; state: string; idempotency_key: string; attempt: number | null; duplicate_count: number }[]
  > {
    const text =
      'SELECT id, state, idempotency_key, attempt, duplicate_count FROM runs WHERE key_id = $1 ORDER BY created_at'
    if (fixture.databaseUrl === undefined) {
      const db = new Database(join(fixture.dataDir, 'keyrotor.db'), { readonly: true })
      try {
        return db.prepare(text.replace('$1', '?')).all(key) as never
      } finally {
        db.close()
      }
    }
    const client = new pg.Client({ connectionString: fixture.databaseUrl })
    await client.connect()
    try {
      return (await client.query(text, [key])).rows as never
    } finally {
      await client.end()
    }
  }

  async function versionsOf(key: string): Promise<string[]> {
    const { body } = await call<{ versions: { version: number; state: string }[] }>(
      url,
      fixture.adminToken,
      'GET',
      `/v1/keys/${key}`,
    )
    return body.versions.map((v) => `v${v.version}:${v.state}`)
  }

  beforeAll(async () => {
    deps = Object.fromEntries(
      await Promise.all(KEYS.map(async (k) => [k, await planDependent(`${k}-api`)] as const)),
    )
    const yaml = `keys:${KEYS.map((id) => keyYaml({ id, algorithm: 'aes-256-gcm', dependents: [deps[id]!], policy: POLICY })).join('')}`
    fixture = await createServerFixture(dialect, yaml, { secrets: secretsOf(Object.values(deps)) })
    url = (await fixture.start({})).url
    env = { KEYROTOR_URL: url, KEYROTOR_TOKEN: fixture.adminToken }
    await serveDependent('ctm-term', 400)
    await serveDependent('ctm-kill', 400)
    await serveDependent('ctm-slow', 600)
    // ctm-refused's service is not up yet: pre-flight refuses its first job
  }, 60_000)
  afterAll(async () => {
    for (const close of closers.reverse()) await close()
    await fixture.dispose()
  })

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`a job killed with ${signal} mid-run detaches; the rerun with the same order id attaches and exits 0 with one rotation`, async () => {
      const key = signal === 'SIGTERM' ? 'ctm-term' : 'ctm-kill'
      const idem = `ctm-ORDER1-${key}`
      const job = spawnJob(['rotate', key, '--wait', '--idempotency-key', idem, '--attempt', '1'], env)
      // killed while the run is past create: the agent ends the job, not the rotation
      await until(
        'the job to print a phase',
        () => (/\bdistribute\b/.test(job.stdout()) ? true : undefined),
        30_000,
        20,
      )
      job.child.kill(signal)
      const code = await exitOf(job.child)
      if (signal === 'SIGTERM') {
        expect(code).toBe(6)
        expect(lastLine(job.stdout())).toMatch(/^KEYROTOR-RESULT=(RUNNING|QUEUED) run=\S+ exit=6$/)
        expect(job.stderr()).toContain('detached from run')
      } else {
        expect(job.child.signalCode).toBe('SIGKILL')
      }

      const rerun = await runCliProcess(
        ['rotate', key, '--wait', '--idempotency-key', idem, '--attempt', '2'],
        env,
      )
      expect(rerun.code).toBe(0)
      expect(rerun.stderr).toContain('attached to existing run')
      for (const phase of ['preflight', 'create', 'distribute', 'promote', 'confirm', 'validate'])
        expect(rerun.stdout).toContain(phase)
      const [, state, runId, exit] = RESULT.exec(lastLine(rerun.stdout)) ?? []
      expect([state, exit]).toEqual(['SUCCEEDED', '0'])

      const runs = await runsOf(key)
      expect(runs).toHaveLength(1)
      expect(runs[0]).toMatchObject({
        id: runId,
        state: 'succeeded',
        idempotency_key: idem,
        attempt: 1,
        duplicate_count: 1,
      })
      expect(await versionsOf(key)).toEqual(['v1:retiring', 'v2:active'])
    }, 60_000)
  }

  it('a job refused by pre-flight exits 3 and changes nothing; its rerun after the cause is fixed rotates once', async () => {
    const key = 'ctm-refused'
    const args = ['rotate', key, '--wait', '--idempotency-key', 'ctm-ORDER2-rotate']
    const refused = await runCliProcess([...args, '--attempt', '1'], env)
    expect(refused.code).toBe(3)
    expect(lastLine(refused.stdout)).toMatch(/^KEYROTOR-RESULT=FAILED run=\S+ exit=3$/)
    expect(await versionsOf(key)).toEqual(['v1:active'])

    await serveDependent(key, 0)
    const rerun = await runCliProcess([...args, '--attempt', '2'], env)
    expect(rerun.code).toBe(0)
    expect(rerun.stderr).toContain('refused by pre-flight and changed nothing')
    expect(lastLine(rerun.stdout)).toMatch(/^KEYROTOR-RESULT=SUCCEEDED run=\S+ exit=0$/)
    // a third run of the same order attaches to the rotation: it never starts another
    const again = await runCliProcess([...args, '--attempt', '3'], env)
    expect(again.code).toBe(0)

    const runs = await runsOf(key)
    expect(runs.map((r) => [r.idempotency_key, r.state])).toEqual([
      ['ctm-ORDER2-rotate', 'failed'],
      ['ctm-ORDER2-rotate#2', 'succeeded'],
    ])
    expect(await versionsOf(key)).toEqual(['v1:retiring', 'v2:active'])
  }, 60_000)

  it('--timeout 1s on a slow rotation exits 6; the rerun attaches to the same run and exits 0', async () => {
    const key = 'ctm-slow'
    const args = ['rotate', key, '--wait', '--idempotency-key', 'ctm-ORDER3-rotate']
    const timedOut = await runCliProcess([...args, '--attempt', '1', '--timeout', '1s'], env)
    expect(timedOut.code).toBe(6)
    const [, , firstRun] = RESULT.exec(lastLine(timedOut.stdout)) ?? []
    expect(lastLine(timedOut.stdout)).toMatch(/exit=6$/)

    const rerun = await runCliProcess([...args, '--attempt', '2'], env)
    expect(rerun.code).toBe(0)
    expect(lastLine(rerun.stdout)).toBe(`KEYROTOR-RESULT=SUCCEEDED run=${firstRun} exit=0`)
    expect((await runsOf(key)).map((r) => r.id)).toEqual([firstRun])
    expect(await versionsOf(key)).toEqual(['v1:retiring', 'v2:active'])
  }, 60_000)
})

describe('the Control-M job definitions in docs/integrations/control-m', () => {
  const dir = 'docs/integrations/control-m/jobs'
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'))

  /** Every object in a parsed document, depth first, with its property name. */
  function* objects(value: unknown, name = ''): Generator<[string, Record<string, unknown>]> {
    if (typeof value !== 'object' || value === null) return
    if (Array.isArray(value)) for (const item of value) yield* objects(item, name)
    else {
      yield [name, value as Record<string, unknown>]
      for (const [k, v] of Object.entries(value)) yield* objects(v, k)
    }
  }

  it('are valid JSON jobs whose commands use only flags that keyrotor rotate --help lists', async () => {
    const help = await runCliProcess(['rotate', '--help'])
    expect(help.code).toBe(0)
    const known = new Set(help.stdout.match(/--[a-z][a-z-]*/g))
    expect(files.length).toBeGreaterThanOrEqual(4)
    let commands = 0
    for (const file of files) {
      const doc = JSON.parse(readFileSync(join(dir, file), 'utf8')) as unknown
      for (const [, object] of objects(doc)) {
        if (object.Type !== 'Job:Command') continue
        const command = String(object.Command)
        commands++
        expect(command, file).toMatch(/^keyrotor rotate [a-z0-9-]+ /)
        for (const flag of command.match(/(?<=\s)--[a-z][a-z-]*/g) ?? [])
          expect(known, `${file}: ${flag}`).toContain(flag)
        expect(command, file).toContain('--wait')
        expect(command, file).toContain('--idempotency-key ctm-%%ORDERID-%%JOBNAME')
        expect(command, file).toContain('--attempt %%RUNCOUNT')
      }
    }
    expect(commands).toBeGreaterThanOrEqual(7)
  })

  it('rerun only on the safe codes 3, 4, 6, 8 and mail or notify on 1 and 5', () => {
    for (const file of files) {
      const doc = JSON.parse(readFileSync(join(dir, file), 'utf8')) as unknown
      for (const [name, job] of objects(doc)) {
        if (typeof job.Type !== 'string' || !job.Type.startsWith('Job:')) continue
        const rules = [...objects(job)].filter(([, o]) => o.Type === 'If:CompletionStatus').map(([, o]) => o)
        const actionsOn = (code: string) =>
          rules
            .filter((r) => r.CompletionStatus === code)
            .flatMap((r) => Object.values(r).map((a) => (a as { Type?: string } | null)?.Type))
        for (const rule of rules) {
          const reruns = Object.values(rule).some(
            (a) => (a as { Type?: string } | null)?.Type === 'Action:Rerun',
          )
          if (reruns) expect(['3', '4', '6', '8'], `${file} ${name}`).toContain(rule.CompletionStatus)
        }
        for (const code of ['3', '4', '6', '8'])
          expect(actionsOn(code), `${file} ${name} ${code}`).toContain('Action:Rerun')
        for (const code of ['1', '5']) {
          expect(
            actionsOn(code).some((t) => t === 'Action:Mail' || t === 'Action:Notify'),
            `${file} ${name} ${code}`,
          ).toBe(true)
        }
      }
    }
  })

  it('asks for confirmation before an emergency rotation', () => {
    const doc = JSON.parse(readFileSync(join(dir, 'emergency-rotation.json'), 'utf8')) as unknown
    const jobs = [...objects(doc)].map(([, o]) => o).filter((o) => o.Type === 'Job:Command')
    expect(jobs.length).toBe(1)
    expect(jobs[0]).toMatchObject({ Confirm: true })
    expect(String(jobs[0]?.Command)).toMatch(/--emergency .*--reason /)
  })
})
