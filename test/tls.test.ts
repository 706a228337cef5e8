import { execFile, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../src/demo/free-port.js'
import { fetchJwks } from '../src/dependent-sdk/index.js'
import { fetchTrusting } from '../src/dependent-sdk/trusting-fetch.js'
import { runInit } from '../src/main.js'
import { exitOf, runCliProcess, spawnCli, waitForLine } from './helpers/cli.js'
import { until } from './helpers/instances.js'
import { keyYaml } from './helpers/sample-dependents.js'

const run = promisify(execFile)

async function startServer(
  dataDir: string,
  args: string[],
): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawnCli(['server', '--data-dir', dataDir, ...args], { KEYROTOR_LOG_LEVEL: 'info' })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  await waitForLine(child, /keyrotor started/)
  child.stdout?.resume()
  return { child, stderr: () => stderr }
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null) return
  child.kill('SIGTERM')
  await exitOf(child)
}

// TLS and headers are the HTTP edge's; the store plays no part, so SQLite alone
describe('TLS, CA trust and security headers (issue 9 item 11)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keyrotor-tls-'))
  const dataDir = join(dir, 'data')
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  let server: ChildProcess | undefined
  let url = ''
  let admin = ''

  beforeAll(async () => {
    // a self-signed certificate for 127.0.0.1, made by openssl: its own CA
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-keyout', key, '-out', cert, '-subj', '/CN=keyrotor-test',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ]) // prettier-ignore
    admin = (await runInit({ dataDir })).adminToken
    const config = join(dir, 'keyrotor.yaml')
    writeFileSync(config, `keys:${keyYaml({ id: 'tls-signing', algorithm: 'ec-p256', dependents: [] })}`)
    const port = await freePort()
    url = `https://127.0.0.1:${port}`
    server = (
      await startServer(dataDir, [
        '--config',
        config,
        '--port',
        String(port),
        '--tls-cert',
        cert,
        '--tls-key',
        key,
      ])
    ).child
  }, 60_000)
  afterAll(async () => {
    await stop(server)
    rmSync(dir, { recursive: true, force: true })
  })

  it('serves HTTPS that curl verifies against the certificate, with helmet security headers', async () => {
    const { stdout } = await run('curl', [
      '-sS',
      '--cacert',
      cert,
      '-D',
      '-',
      '-o',
      '/dev/null',
      `${url}/healthz`,
    ])
    const headers = stdout.toLowerCase()
    expect(headers).toMatch(/^http\/1\.1 200/)
    expect(headers).toContain("content-security-policy: default-src 'self';")
    expect(headers).toContain("frame-ancestors 'none'")
    expect(headers).toContain('strict-transport-security: max-age=31536000')
    expect(headers).toContain('x-content-type-options: nosniff')
    // and a client that does not trust it is refused
    await expect(run('curl', ['-sS', `${url}/healthz`])).rejects.toThrow()
  })

  it('lets the CLI trust the certificate with KEYROTOR_CA_FILE or --ca-file, and not without', async () => {
    const env = { KEYROTOR_URL: url, KEYROTOR_TOKEN: admin }
    const untrusted = await runCliProcess(['keys', 'list', '--json'], env)
    expect(untrusted.code).toBe(8)
    const byEnv = await runCliProcess(['keys', 'list', '--json'], { ...env, KEYROTOR_CA_FILE: cert })
    expect([byEnv.code, (JSON.parse(byEnv.stdout) as { id: string }[]).map((k) => k.id)]).toEqual([
      0,
      ['tls-signing'],
    ])
    const byFlag = await runCliProcess(['keys', 'list', '--ca-file', cert], env)
    expect(byFlag.code).toBe(0)
    const missing = await runCliProcess(['keys', 'list', '--ca-file', join(dir, 'nope.pem')], env)
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining('--ca-file: cannot read')])
  })

  it('lets the dependent SDK fetch over HTTPS with a ca option', async () => {
    const ca = readFileSync(cert)
    const { keys } = await fetchJwks({ keyrotorUrl: url, key: 'tls-signing', ca })
    expect(keys.map((k) => k.kid)).toEqual(['tls-signing.v1'])
    await expect(fetchJwks({ keyrotorUrl: url, key: 'tls-signing' })).rejects.toThrow(/failed/)
  })

  it('marks every answer carrying a token or material Cache-Control: no-store', async () => {
    const trusted = fetchTrusting(readFileSync(cert))
    const post = (body: unknown) =>
      trusted(`${url}/v1/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    const created = await post({ user: 'svc', role: 'consumer', key: 'tls-signing' })
    expect([created.status, created.headers.get('cache-control')]).toEqual([201, 'no-store'])
    const { token } = (await created.json()) as { token: string }
    const material = await trusted(`${url}/v1/keys/tls-signing/versions/1/material`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect([material.status, material.headers.get('cache-control')]).toEqual([200, 'no-store'])
    const keys = await trusted(`${url}/v1/keys`, { headers: { authorization: `Bearer ${admin}` } })
    expect(keys.headers.get('cache-control')).toBe('no-store')
  })

  it('warns loudly when listening beyond loopback without TLS', async () => {
    const plainDir = join(dir, 'plain')
    await runInit({ dataDir: plainDir })
    const plain = await startServer(plainDir, ['--host', '0.0.0.0', '--port', String(await freePort())])
    try {
      // stderr and stdout are two pipes: the warning may arrive just after the start line
      const warning = await until('the warning', () => plain.stderr().match(/WARNING: .*/)?.[0], 10_000)
      expect(warning).toContain('listening on 0.0.0.0 WITHOUT TLS')
    } finally {
      await stop(plain.child)
    }
  })
})
