import type { FastifyInstance } from 'fastify'
import type { Logger } from '../observability/logger.js'
import type { StartOptions } from './start-options.js'
import { isLoopback } from './tls.js'

/**
 * Opens the port (127.0.0.1:8420 unless told otherwise) and resolves with the URL, warning loudly
 * when the API is served in clear off the loopback; with `listen: false` only readies the app.
 */
export async function listen(
  app: FastifyInstance,
  options: StartOptions,
  overTls: boolean,
  logger: Logger,
): Promise<string> {
  if (options.listen === false) {
    await app.ready()
    return ''
  }
  const host = options.host ?? '127.0.0.1'
  const url = (await app.listen({ port: options.port ?? 8420, host })).replace('[::1]', '127.0.0.1')
  if (!overTls && !isLoopback(host)) {
    const warning = `listening on ${host} WITHOUT TLS: tokens and key material cross the network in clear; use --tls-cert and --tls-key, or a TLS proxy on the same host`
    logger.warn({ host }, warning)
    process.stderr.write(`keyrotor: WARNING: ${warning}\n`)
  }
  return url
}
