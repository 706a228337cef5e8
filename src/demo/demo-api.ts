/** The few API calls the demo makes, over real HTTP like any client. */
export interface DemoRun {
  id: string
  state: string
  fromVersion: number | null
  toVersion: number | null
  failure: { class: string; phase: string; message: string } | null
  validation: { passed: boolean } | null
}

export interface DemoEvent {
  id: number
  at: string
  type: string
  phase: string | null
  message: string
}

const TERMINAL = new Set(['succeeded', 'failed', 'halted', 'cancelled', 'rejected'])

export function createDemoApi(url: string, token: string) {
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const json = (await response.json()) as T & { detail?: string }
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${json.detail ?? ''}`)
    return json
  }

  return {
    createToken: (user: string, role: string, key: string) =>
      call<{ token: string; id: string }>('POST', '/v1/tokens', { user, role, key }),

    /** Starts a rotation and reports each journal entry until the run ends. */
    async rotateAndFollow(
      key: string,
      idempotencyKey: string,
      onEvent: (e: DemoEvent) => void,
    ): Promise<DemoRun> {
      const run = await call<DemoRun>('POST', `/v1/keys/${key}/rotations`, {
        idempotencyKey,
        reason: 'keyrotor demo',
      })
      let cursor = 0
      for (;;) {
        const page = await call<{ events: DemoEvent[]; cursor: number }>(
          'GET',
          `/v1/runs/${run.id}/events?after=${cursor}`,
        )
        for (const e of page.events) onEvent(e)
        cursor = page.cursor
        const now = await call<DemoRun>('GET', `/v1/runs/${run.id}`)
        if (TERMINAL.has(now.state) && page.events.length === 0) return now
        if (page.events.length === 0) await new Promise((resolve) => setTimeout(resolve, 100))
      }
    },
  }
}
