import { loadAgentConfig } from '../agent/agent-config.js'
import { startAgent } from '../agent/agent.js'
import type { LogLevel } from '../config/env.js'
import { createLogger } from '../observability/logger.js'

/** `keyrotor agent`: serves one service's probes and notices until SIGINT or SIGTERM. */
export async function runAgent(options: {
  configPath: string
  logFile?: string | undefined
  logLevel?: LogLevel | undefined
  secretOf: (name: string) => string | undefined
}): Promise<void> {
  const config = await loadAgentConfig(options.configPath)
  const log = createLogger({ level: options.logLevel ?? 'info', destination: options.logFile })
  const agent = await startAgent({ config, secretOf: options.secretOf, log })
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await agent.close()
}
