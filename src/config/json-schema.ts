import { z } from 'zod'
import { configSchema } from './schema.js'

/** Where the published schema lives in the repository (and in the npm package). */
export const JSON_SCHEMA_PATH = 'schema/keyrotor.schema.json'

/**
 * The JSON Schema (draft 2020-12) of keyrotor.yaml, generated from the zod schema so the two
 * cannot disagree. `io: 'input'` describes what a person writes: fields with defaults are optional.
 * Rules that span the file (unique ids, window references) are beyond JSON Schema; `keyrotor
 * config validate` checks those.
 */
export function configJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12' })
  const { $schema, ...rest } = generated
  return {
    $schema,
    $id: 'urn:keyrotor:config',
    title: 'keyrotor configuration',
    description:
      'keyrotor.yaml: the keys keyrotor rotates, their providers, policies and dependents, change windows, ' +
      'blackouts and notification sinks. See docs/configuration.md.',
    ...rest,
  }
}

/** The schema file's exact text: two-space JSON and a final newline. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`
}
