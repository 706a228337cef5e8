import { useEffect, useState } from 'preact/hooks'
import type { RunEvent } from '../src/store/events-repository.js'
import { authHeaders } from './api.js'

export type StreamStatus = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'refused'

export interface RunEventsState {
  events: RunEvent[]
  status: StreamStatus
}

const RETRY_MS = 1000

/**
 * A run's journal, live: Server-Sent Events read with fetch (an EventSource cannot send the
 * bearer header). When the connection drops the status turns "reconnecting" and the stream
 * resumes after the last event received (`Last-Event-ID`), so nothing is shown twice or missed.
 */
export function useRunEvents(runId: string): RunEventsState {
  const [state, setState] = useState<RunEventsState>({ events: [], status: 'connecting' })

  useEffect(() => {
    const abort = new AbortController()
    let lastId: string | null = null
    let stopped = false
    const setStatus = (status: StreamStatus) => setState((s) => (s.status === status ? s : { ...s, status }))

    async function connect(): Promise<void> {
      while (!stopped) {
        let ended = false
        try {
          const response = await fetch(`/v1/runs/${encodeURIComponent(runId)}/events`, {
            headers: {
              accept: 'text/event-stream',
              ...authHeaders(),
              ...(lastId === null ? {} : { 'last-event-id': lastId }),
            },
            credentials: 'omit',
            signal: abort.signal,
          })
          // 204: the run had ended and every event was already sent
          if (response.status === 204) ended = true
          else if (!response.ok || response.body === null) {
            if (response.status === 401 || response.status === 403 || response.status === 404) {
              setStatus('refused')
              return
            }
          } else {
            setStatus('live')
            ended = await readStream(response.body, (id, type, data) => {
              if (id !== null) lastId = id
              if (type === 'end') return true
              const event = JSON.parse(data) as RunEvent
              setState((s) => ({ ...s, events: [...s.events, event] }))
              return false
            })
          }
        } catch {
          if (abort.signal.aborted) return
        }
        if (ended) {
          setStatus('ended')
          return
        }
        setStatus('reconnecting')
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS))
      }
    }
    void connect()
    return () => {
      stopped = true
      abort.abort()
    }
  }, [runId])

  return state
}

/** Parses an event stream; `onEvent` returns true at the last event. True when that was seen. */
async function readStream(
  body: ReadableStream<Uint8Array>,
  onEvent: (id: string | null, type: string, data: string) => boolean,
): Promise<boolean> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return false
    buffer += decoder.decode(value, { stream: true })
    let boundary: number
    while ((boundary = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, boundary)
      buffer = buffer.slice(boundary + 2)
      let id: string | null = null
      let type = 'message'
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'id') id = value
        else if (field === 'event') type = value
        else if (field === 'data') data.push(value)
      }
      if (data.length === 0) continue
      if (onEvent(id, type, data.join('\n'))) {
        await reader.cancel()
        return true
      }
    }
  }
}
