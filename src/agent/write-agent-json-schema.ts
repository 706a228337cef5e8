import { writeFileSync } from 'node:fs'
import { AGENT_JSON_SCHEMA_PATH, agentJsonSchemaText } from './agent-json-schema.js'

// `npm run schema` (or `npx tsx src/agent/write-agent-json-schema.ts`) from the repository root:
// regenerates schema/agent.schema.json after a change to agent-config.ts; test/agent.test.ts
// fails while the committed file differs from what this writes.
const target = process.argv[2] ?? AGENT_JSON_SCHEMA_PATH
writeFileSync(target, agentJsonSchemaText())
console.log(`wrote ${target}`)
