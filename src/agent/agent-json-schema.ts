import { z } from 'zod'
import { agentConfigSchema } from './agent-config.js'

/** Where the published schema of agent.yaml lives (beside keyrotor.schema.json). */
export const AGENT_JSON_SCHEMA_PATH = 'schema/agent.schema.json'

/**
 * The JSON Schema of agent.yaml, generated from the zod schema like keyrotor.yaml's. The rules
 * across fields (key: or keys:, not both; one output dir per key) are checked by the agent itself.
 */
export function agentJsonSchemaText(): string {
  const { $schema, ...rest } = z.toJSONSchema(agentConfigSchema, { io: 'input', target: 'draft-2020-12' })
  const schema = {
    $schema,
    $id: 'urn:keyrotor:agent-config',
    title: 'keyrotor agent configuration',
    description:
      'agent.yaml: one service, the key or keys it uses, where the agent writes their versions and how it ' +
      'reloads the service. See docs/agent.md.',
    ...rest,
  }
  return `${JSON.stringify(schema, null, 2)}\n`
}
