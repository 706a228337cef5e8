import { EventSource } from 'eventsource'
import { afterEach, describe, expect, it } from 'vitest'
import { startDataKeyService } from '../src/demo/sample-services.js'
import type { RunView } from '../src/engine/views.js'
import type { RunEvent } from '../src/store/events-repository.js'
import { startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { keyYaml, planDependent, secretsOf } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

const KEY = 'payments-dek'

interface SseMessage {
  id?: string
  event: string
  data: string
}

/**
 * Reads Server-Sent Events from a run's events route until `event: end`, or until `stopAfter`
 * events when given (then the connection is dropped, as a client that goes away would).
 */
async function readStream(
  h: Harness,
  runId: string,
  headers: Record<string, string> = {},
  stopAfter?: number,
): Promise<{ messages: SseMessage[]; contentType: string | null }> {
  const abort = new AbortController()
  const response = await fetch(`${h.url}/v1/runs/${runId}/events`, {
    headers: { authorization: `Bearer ${h.adminToken}`, accept: 'text/event-stream', ...headers },
    signal: abort.signal,
  })
  expect(response.status).toBe(200)
  const messages: SseMessage[] = []
  const decoder = new TextDecoder()
  let buffer = ''
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += decoder.decode(value, { stream: true })
    let end: number
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const fields = new Map<string, string>()
      for (const line of block.split('\n')) {
        if (line.startsWith(':') || !line.includes(':')) continue
        const at = line.indexOf(':')
        fields.set(line.slice(0, at), line.slice(at + 1).trimStart())
      }
      if (!fields.has('event')) continue
      messages.push({
        id: fields.get('id'),
        event: fields.get('event') ?? '',
        data: fields.get('data') ?? '',
      })
      if (stopAfter !== undefined && messages.length >= stopAfter) {
        abort.abort()
        return { messages, contentType: response.headers.get('content-type') }
      }
    }
  }
  return { messages, contentType: response.headers.get('content-type') }
}

describe.each(DIALECTS)('run events as Server-Sent Events on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function setup(): Promise<Harness> {
    const dep = await planDependent('payments-api')
    const yaml = `keys:${keyYaml({ id: KEY, algorithm: 'aes-256-gcm', dependents: [dep], policy: '{ gracePeriod: 1h }' })}`
    const h = await startHarness(dialect, yaml, { secrets: secretsOf([dep]) })
    cleanups.push(() => h.stop())
    const { token } = (
      await h.api<{ token: string }>('POST', '/v1/tokens', { user: dep.name, role: 'consumer', key: KEY })
    ).body
    const service = await startDataKeyService({
      key: KEY,
      keyrotorUrl: h.url,
      token,
      secret: dep.secret,
      port: dep.port,
    })
    cleanups.push(() => service.close())
    return h
  }

  async function journal(h: Harness, runId: string): Promise<RunEvent[]> {
    return (await h.api<{ events: RunEvent[] }>('GET', `/v1/runs/${runId}/events`)).body.events
  }

  it('streams every phase of a rotation in order, then ends with event: end', async () => {
    const h = await setup()
    const run = (await h.api<RunView>('POST', `/v1/keys/${KEY}/rotations`, {})).body
    const { messages, contentType } = await readStream(h, run.id)
    expect(contentType).toMatch(/^text\/event-stream/)
    const end = messages.at(-1)
    expect(end?.event).toBe('end')
    expect(JSON.parse(end?.data ?? '{}')).toMatchObject({ runId: run.id, state: 'succeeded' })
    const events = messages.slice(0, -1).map((m) => ({ ...m, parsed: JSON.parse(m.data) as RunEvent }))
    expect(events.every((m) => m.event === m.parsed.type && m.id === String(m.parsed.id))).toBe(true)
    expect(events.filter((m) => m.event === 'phase.started').map((m) => m.parsed.phase)).toEqual([
      'preflight',
      'create',
      'distribute',
      'promote',
      'confirm',
      'validate',
    ])
    // the same journal as the JSON form, which keeps its cursor
    expect(events.map((m) => m.parsed.id)).toEqual((await journal(h, run.id)).map((e) => e.id))
    const page = await h.api<{ events: RunEvent[]; cursor: number }>(
      'GET',
      `/v1/runs/${run.id}/events?after=0`,
    )
    expect(page.body.cursor).toBe(page.body.events.at(-1)?.id)
  })

  it('resumes after Last-Event-ID on a reconnect, without duplicates or gaps', async () => {
    const h = await setup()
    const run = (await h.api<RunView>('POST', `/v1/keys/${KEY}/rotations`, {})).body
    const first = await readStream(h, run.id, {}, 3)
    const lastId = first.messages.at(-1)?.id ?? ''
    const rest = await readStream(h, run.id, { 'last-event-id': lastId })
    expect(rest.messages.at(-1)?.event).toBe('end')
    const ids = [...first.messages, ...rest.messages.slice(0, -1)].map((m) => Number(m.id))
    expect(ids).toEqual((await journal(h, run.id)).map((e) => e.id))
    // ?after= does the same for a client that is not an EventSource
    const after = await readStream(h, run.id, {}, undefined)
    const fromCursor = await fetch(`${h.url}/v1/runs/${run.id}/events?after=${lastId}`, {
      headers: { authorization: `Bearer ${h.adminToken}`, accept: 'text/event-stream' },
    })
    expect((await fromCursor.text()).includes(`id: ${lastId}\n`)).toBe(false)
    expect(after.messages.length).toBe(ids.length + 1)
  })

  it('ends a stream on a finished run at once, and refuses a malformed Last-Event-ID', async () => {
    const h = await setup()
    const done = await waitForRun<RunView>(
      h,
      (await h.api<RunView>('POST', `/v1/keys/${KEY}/rotations`, {})).body.id,
    )
    const count = (await journal(h, done.id)).length
    // a reconnect past the last event of a finished run: nothing more will come, stop reconnecting
    const reconnect = await fetch(`${h.url}/v1/runs/${done.id}/events`, {
      headers: {
        authorization: `Bearer ${h.adminToken}`,
        accept: 'text/event-stream',
        'last-event-id': '2147483647',
      },
    })
    expect(reconnect.status).toBe(204)
    expect((await readStream(h, done.id)).messages).toHaveLength(count + 1)
    const bad = await fetch(`${h.url}/v1/runs/${done.id}/events`, {
      headers: { authorization: `Bearer ${h.adminToken}`, accept: 'text/event-stream', 'last-event-id': 'x' },
    })
    expect(bad.status).toBe(400)
    const tooLarge = await h.api('GET', `/v1/runs/${done.id}/events?after=${2 ** 40}`)
    expect(tooLarge.status).toBe(400)
  })

  it('stops a real EventSource that never closes after the end of a finished run (204, no reconnect loop)', async () => {
    const h = await setup()
    const done = await waitForRun<RunView>(
      h,
      (await h.api<RunView>('POST', `/v1/keys/${KEY}/rotations`, {})).body.id,
    )
    const count = (await journal(h, done.id)).length
    let requests = 0
    const source = new EventSource(`${h.url}/v1/runs/${done.id}/events`, {
      fetch: (input, init) => {
        requests += 1
        return fetch(input, {
          ...init,
          headers: { ...init.headers, authorization: `Bearer ${h.adminToken}` },
        })
      },
    })
    let received = 0
    source.addEventListener('phase.completed', () => (received += 1))
    const ended = new Promise<void>((resolve) => source.addEventListener('end', () => resolve()))
    const stopped = new Promise<void>((resolve) => {
      source.onerror = () => {
        if (source.readyState === EventSource.CLOSED) resolve()
      }
    })
    await ended
    // the client does not close on `end`: the server's answer to its reconnect must stop it
    await stopped
    expect(source.readyState).toBe(EventSource.CLOSED)
    expect(received).toBeGreaterThan(0)
    expect(received).toBeLessThan(count)
    expect(requests).toBe(2)
    source.close()
  })

  it('lets the server stop while a stream on an unfinished run is open', async () => {
    const h = await setup()
    const { run } = await h.keyrotor.runs.request({
      keyId: KEY,
      kind: 'rotate',
      actor: 'test',
      trigger: 'manual',
      notBefore: '2999-01-01T00:00:00.000Z',
    })
    const response = await fetch(`${h.url}/v1/runs/${run.id}/events`, {
      headers: { authorization: `Bearer ${h.adminToken}`, accept: 'text/event-stream' },
    })
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    let text = ''
    while (!text.includes('event: run.created')) {
      const { value, done } = await reader.read()
      if (done) break
      text += new TextDecoder().decode(value)
    }
    expect(text).toContain('event: run.created')
    await h.keyrotor.close()
    // the harness closes the server again at the end: it is closed already
    h.keyrotor = { ...h.keyrotor, close: async () => {} }
    for (;;) {
      const { done } = await reader.read()
      if (done) break
    }
  })
})
