import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'

/**
 * Atlassian's own JSON Schema of the Atlassian Document Format (v1 full), copied unchanged from
 * the npm package @atlaskit/adf-schema 57.7.22 (Apache-2.0, dist/json-schema/v1/full.json). It is
 * written for draft-04; its `$schema` is dropped because ajv 8 does not ship that meta-schema, and
 * nothing in it reads differently under ajv's default draft.
 */
const schema = JSON.parse(readFileSync('test/fixtures/adf/full.json', 'utf8')) as Record<string, unknown>
delete schema.$schema
const validate = new Ajv({ strict: false, allErrors: false }).compile(schema)

/** Null when `doc` is a valid ADF document, else ajv's first complaint. */
export function adfProblem(doc: unknown): string | null {
  return validate(doc) ? null : JSON.stringify(validate.errors?.[0] ?? 'invalid')
}
