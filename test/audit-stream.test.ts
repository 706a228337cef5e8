import { createServer, type Server } from 'node:http'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { AuditEvent } from '../src/audit/audit-log.js'
import { verifyExport } from '../src/audit/verify-export.js'
import { freePort } from '../src/demo/free-port.js'
import { verifySignature } from '../src/dependents/signature.js'
import type { RunView } from '../src/engine/views.js'
import { runCliProcess } from './helpers/cli.js'
import { startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { makeTlsFiles, startRsyslog } from './helpers/rsyslog.js'
import { keyYaml } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

const HTTP_SECRET = 'audit-http-secret-for-tests'
const TIMINGS = { pollMs: 50, backoffBaseMs: 50, backoffMaxMs: 200, timeoutMs: 3000 }

/** An http audit sink receiver: checks each POST's signature, refuses the first with 503. */
async function startHttpReceiver(port: number) {
  const batches: string[][] = []
  let refused = 0
  let badSignatures = 0
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      const signed = verifySignature(
        HTTP_SECRET,
        req.headers['x-keyrotor-timestamp'] as string | undefined,
        body,
        req.headers['x-keyrotor-signature'] as string | undefined,
      )
      if (!signed || req.headers['content-type'] !== 'application/x-ndjson') badSignatures += 1
      if (refused === 0) {
        refused += 1
        res.writeHead(503).end('try later')
        return
      }
      batches.push(body.split('\n').filter((l) => l !== ''))
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    batches,
    refused: () => refused,
    badSignatures: () => badSignatures,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

async function headSeq(h: Harness): Promise<number> {
  const records = (await h.api<AuditEvent[]>('GET', '/v1/audit?limit=10000')).body
  return records.at(-1)?.seq ?? 0
}

/** Waits until every audit sink has acknowledged the chain up to its current head. */
async function streamedUpToHead(h: Harness, sinks: number): Promise<number> {
  const head = await headSeq(h)
  const deadline = Date.now() + 30_000
  for (;;) {
    const cursors = await h.keyrotor.auditStream.cursors()
    if (cursors.length === sinks && cursors.every((c) => c.deliveredSeq >= head)) return head
    if (Date.now() > deadline) throw new Error(`audit sinks behind head #${head}: ${JSON.stringify(cursors)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function rotate(h: Harness, key: string): Promise<RunView> {
  const started = await h.api<RunView>('POST', `/v1/keys/${key}/rotations`, {})
  expect(started.status).toBe(201)
  return waitForRun<RunView>(h, started.body.id)
}

describe.each(DIALECTS)('audit streaming on %s', (dialect) => {
  const cleanups: (() => Promise<void> | void)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'keyrotor-audit-stream-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    return dir
  }

  it('streams the whole chain to rsyslog over TLS, a signed batched http receiver and rotated files, and audit verify --export checks the copies', async () => {
    const dir = tempDir()
    const tls = makeTlsFiles(dir)
    const [syslogPort, httpPort] = [await freePort(), await freePort()]
    const rsyslog = await startRsyslog({ dir, port: syslogPort, tls })
    cleanups.push(() => rsyslog.stop())
    const receiver = await startHttpReceiver(httpPort)
    cleanups.push(() => receiver.close())
    const file = join(dir, 'audit.jsonl')
    const config = `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: [] })}
notifications:
  audit:
    - { type: syslog, address: "localhost:${syslogPort}", tls: true, caFile: "${tls.ca}" }
    - { type: http, url: "http://127.0.0.1:${httpPort}/audit", secretEnv: AUDIT_HTTP_SECRET, batchSize: 3 }
    - { type: file, path: "${file}", maxBytes: 1024, keep: 100 }
`
    const h = await startHarness(dialect, config, {
      secrets: { AUDIT_HTTP_SECRET: HTTP_SECRET },
      auditStream: TIMINGS,
    })
    cleanups.push(() => h.stop())
    const run = await rotate(h, 'payments-dek')
    expect(run.state).toBe('succeeded')
    for (const user of ['alice', 'bob', 'carol']) {
      expect((await h.api('POST', '/v1/tokens', { user, role: 'viewer' })).status).toBe(201)
    }
    const head = await streamedUpToHead(h, 3)
    expect(head).toBeGreaterThanOrEqual(7)
    const seqs = Array.from({ length: head }, (_, i) => i + 1)

    // rsyslog: every record once, in order, with its chain hash in the structured data
    const received = rsyslog.messages().map((line) => JSON.parse(line) as AuditEvent)
    expect(received.map((r) => r.seq)).toEqual(seqs)
    expect(received.some((r) => r.correlationId === run.correlationId && r.action === 'run.succeeded')).toBe(
      true,
    )
    const sd = rsyslog.structuredData()
    for (const record of received) {
      const line = sd[record.seq - 1]!
      expect(line).toContain(
        `[keyrotor@32473 seq="${record.seq}" hash="${record.hash}" prevHash="${record.prevHash}"`,
      )
      if (record.correlationId !== null) expect(line).toContain(`correlationId="${record.correlationId}"`)
    }

    // offline check of rsyslog's copy with the chain key from the data dir's master key
    const verified = await runCliProcess([
      'audit',
      'verify',
      '--export',
      rsyslog.messageFile,
      '--data-dir',
      h.dataDir,
      '--json',
    ])
    expect(verified.code).toBe(0)
    expect(JSON.parse(verified.stdout)).toMatchObject({
      valid: true,
      checked: head,
      firstSeq: 1,
      lastSeq: head,
      hashesChecked: true,
    })

    // an edited record in the copy is found, by line and seq (exit 1)
    const lines = readFileSync(rsyslog.messageFile, 'utf8').split('\n')
    const tampered = join(dir, 'tampered.jsonl')
    lines[1] = lines[1]!.replace(/"actor":"[^"]*"/, '"actor":"mallory"')
    writeFileSync(tampered, lines.join('\n'))
    const broken = await runCliProcess([
      'audit',
      'verify',
      '--export',
      tampered,
      '--data-dir',
      h.dataDir,
      '--json',
    ])
    expect(broken.code).toBe(1)
    expect(JSON.parse(broken.stdout)).toMatchObject({ valid: false, brokenAt: { line: 2, seq: 2 } })
    // without the chain key only the links are checked, and the answer says so
    const linksOnly = await runCliProcess(['audit', 'verify', '--export', tampered])
    expect(linksOnly.code).toBe(0)
    expect(linksOnly.stdout).toContain('record hashes NOT checked')

    // http: signed JSON lines in batches of at most 3; the refused batch came again, nothing lost
    expect(receiver.refused()).toBe(1)
    expect(receiver.badSignatures()).toBe(0)
    expect(receiver.batches.every((b) => b.length <= 3)).toBe(true)
    expect(receiver.batches.flat().map((l) => (JSON.parse(l) as AuditEvent).seq)).toEqual(seqs)

    // file: rotated at 1 KiB; the files read oldest first are the chain, intact
    const rotated = Array.from({ length: 100 }, (_, i) => `${file}.${100 - i}`).filter((f) => existsSync(f))
    expect(rotated.length).toBeGreaterThan(0)
    const copy = [...rotated, file].map((f) => readFileSync(f, 'utf8')).join('')
    const { deriveAuditKey } = await import('../src/audit/chain.js')
    const { loadMasterKey } = await import('../src/providers/local/master-key.js')
    const key = deriveAuditKey(loadMasterKey({ dataDir: h.dataDir }))
    expect(verifyExport(copy, key)).toMatchObject({ valid: true, checked: head, duplicates: 0 })
  })

  it('keeps rotating while the SIEM is down, then delivers every record in order once it is back', async () => {
    const dir = tempDir()
    const port = await freePort()
    const config = `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: [] })}
notifications:
  audit:
    - { type: syslog, address: "127.0.0.1:${port}" }
`
    const h = await startHarness(dialect, config, { auditStream: TIMINGS })
    cleanups.push(() => h.stop())
    expect((await rotate(h, 'payments-dek')).state).toBe('succeeded')
    const deadline = Date.now() + 15_000
    let cursor = (await h.keyrotor.auditStream.cursors())[0]
    while ((cursor === undefined || cursor.attempts < 2) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      cursor = (await h.keyrotor.auditStream.cursors())[0]
    }
    expect(cursor).toMatchObject({ deliveredSeq: 0, lastError: expect.stringContaining('ECONNREFUSED') })
    const metrics = await (await fetch(`${h.url}/metrics`)).text()
    expect(metrics).toMatch(
      /^keyrotor_notifications_total\{channel="audit",sink="syslog",outcome="retry"\} [1-9]/m,
    )

    const rsyslog = await startRsyslog({ dir, port })
    cleanups.push(() => rsyslog.stop())
    const head = await streamedUpToHead(h, 1)
    const seqs = rsyslog.messages().map((line) => (JSON.parse(line) as AuditEvent).seq)
    expect(seqs).toEqual(Array.from({ length: head }, (_, i) => i + 1))
  })
})
