import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { DEFAULT_TOLERANCE_SECONDS, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../dependents/signature.js'
import { NOTIFY_PATH, PROBE_PATH } from '../dependent-sdk/http-handler.js'
import { readBody, send } from '../dependent-sdk/http-io.js'
import { headerOf, parseNotice, verifyNoticeSignature } from '../dependent-sdk/notice.js'
import { DependentError, STATUS_OF } from '../dependent-sdk/types.js'
import { KeyrotorError } from '../errors.js'
import type { Logger } from '../observability/logger.js'
import type { AgentConfig } from './agent-config.js'
import { assertWritableDir } from './key-files.js'
import { KeyAgent } from './key-agent.js'

export interface AgentOptions {
  config: AgentConfig
  /** Resolves `secretEnv` and `tokenEnv` names; only the CLI entry reads the environment. */
  secretOf: (name: string) => string | undefined
  log: Logger
  now?: () => number
}

export interface RunningAgent {
  url: string
  close(): Promise<void>
}

/**
 * `keyrotor agent`: checks its config against the machine (secret set, output dirs writable),
 * restores each key's state, then serves `GET /keyrotor/probe[?key=K]` and `POST /keyrotor/notify`.
 */
export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const { config, log } = options
  const now = options.now ?? Date.now
  const secret = options.secretOf(config.secretEnv)
  if (secret === undefined || secret === '')
    throw new KeyrotorError('INVALID_CONFIG', `secretEnv names ${config.secretEnv}, which is not set`)
  for (const key of config.keys) await assertWritableDir(key.output.dir, key.key)
  const agents = new Map<string, KeyAgent>()
  for (const key of config.keys) {
    const token = key.tokenEnv === undefined ? undefined : options.secretOf(key.tokenEnv)
    const agent = await KeyAgent.start({
      config: key,
      keyrotorUrl: config.keyrotorUrl,
      token,
      timeoutMs: config.timeoutMs,
      log,
      now,
    }).catch((error: unknown) => {
      if (error instanceof KeyrotorError) throw error
      const message = error instanceof Error ? error.message : String(error)
      throw new KeyrotorError(
        'DEPENDENCY_NOT_READY',
        `key ${key.key}: cannot hand over its initial version: ${message}`,
      )
    })
    agents.set(key.key, agent)
  }
  const single = config.keys.length === 1 ? [...agents.values()][0] : undefined

  async function notice(
    rawBody: string,
    request: IncomingMessage,
  ): Promise<{ status: number; error?: string }> {
    let parsed
    try {
      verifyNoticeSignature(secret as string, rawBody, request.headers, { now })
      parsed = parseNotice(rawBody)
    } catch (error) {
      const refused =
        error instanceof DependentError ? error : new DependentError('BAD_NOTICE', String(error))
      log.warn({ reason: refused.message }, 'notice refused')
      return { status: STATUS_OF[refused.code], error: refused.message }
    }
    const agent = agents.get(parsed.key)
    if (agent === undefined)
      return { status: 422, error: `this agent serves ${[...agents.keys()].join(', ')}, not ${parsed.key}` }
    const signature = headerOf(request.headers, SIGNATURE_HEADER) as string
    const stamped = Number(headerOf(request.headers, TIMESTAMP_HEADER))
    const staleAt = (stamped + DEFAULT_TOLERANCE_SECONDS + 1) * 1000
    try {
      await agent.apply(parsed, signature, staleAt)
      return { status: 200 }
    } catch (error) {
      const failure = error instanceof DependentError ? error : undefined
      const message = failure?.message ?? (error instanceof Error ? error.message : String(error))
      log.error(
        {
          key: parsed.key,
          correlationId: parsed.correlationId,
          runId: parsed.runId,
          event: parsed.event,
          version: parsed.version,
          err: message,
        },
        'notice not applied: keyrotor will retry it',
      )
      return { status: failure === undefined ? 500 : STATUS_OF[failure.code], error: message }
    }
  }

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://agent')
    if (url.pathname === PROBE_PATH && request.method === 'GET') {
      const wanted = url.searchParams.get('key')
      const agent = wanted === null ? single : agents.get(wanted)
      if (agent === undefined)
        return send(response, 404, {
          error: wanted === null ? 'several keys: ask /keyrotor/probe?key=KEY' : `no key ${wanted} here`,
        })
      return send(response, 200, agent.probeAnswer())
    }
    if (url.pathname === NOTIFY_PATH && request.method === 'POST') {
      void readBody(request).then(
        async (body) => {
          if (body === undefined) return send(response, 413, { error: 'the notice is too large' })
          const result = await notice(body, request)
          send(response, result.status, result.status < 300 ? { ok: true } : { error: result.error })
        },
        () => send(response, 400, { error: 'the notice could not be read' }),
      )
      return
    }
    send(response, 404, { error: 'not found' })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `${config.listen.host}:${config.listen.port}`
      reject(
        new KeyrotorError(
          'INVALID_CONFIG',
          error.code === 'EADDRINUSE'
            ? `listen: ${where} is already in use (another process listens there)`
            : `listen: cannot listen on ${where}: ${error.message}`,
        ),
      )
    })
    server.listen(config.listen.port, config.listen.host, resolve)
  })
  const address = server.address() as AddressInfo
  const url = `http://${config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host}:${address.port}`
  log.info({ url, keys: [...agents.keys()] }, 'keyrotor agent listening')
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
