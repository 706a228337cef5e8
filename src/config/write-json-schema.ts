import { writeFileSync } from 'node:fs'
import { configJsonSchemaText, JSON_SCHEMA_PATH } from './json-schema.js'

// `npm run schema` (or `npx tsx src/config/write-json-schema.ts`) from the repository root:
// regenerates the published schema after a change to src/config/schema.ts. test/config.test.ts
// fails while the committed file differs from what this writes.
const target = process.argv[2] ?? JSON_SCHEMA_PATH
writeFileSync(target, configJsonSchemaText())
console.log(`wrote ${target}`)
