import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parseConfig } from '../src/config/load-config.js'
import { parsedYamlCacheIn } from '../src/config/parsed-yaml-cache.js'

const EXAMPLE = readFileSync('test/fixtures/keyrotor.example.yaml', 'utf8')

describe('the YAML parse cache of server start-up', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyrotor-parse-cache-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))
  const cacheFiles = () => readdirSync(dir).filter((name) => name.endsWith('.json'))

  it('gives the same config from the cache as from the text, and keeps one document', () => {
    const cache = parsedYamlCacheIn(dir)
    const parsed = parseConfig(EXAMPLE, 'k.yaml')
    expect(parseConfig(EXAMPLE, 'k.yaml', {}, cache)).toEqual(parsed)
    expect(cacheFiles()).toHaveLength(1)
    expect(parseConfig(EXAMPLE, 'k.yaml', {}, cache)).toEqual(parsed)
    const changed = EXAMPLE.replace('rotationPeriod: 90d', 'rotationPeriod: 30d')
    expect(parseConfig(changed, 'k.yaml', {}, cache).keys[0]?.policy.rotationPeriod).toBe('30d')
    // the old text's entry went when the new one came
    expect(cacheFiles()).toHaveLength(1)
  })

  it('still validates what it reads back: only the syntax step is skipped', () => {
    const cache = parsedYamlCacheIn(dir)
    parseConfig(EXAMPLE, 'k.yaml', {}, cache)
    const [file] = cacheFiles()
    const stored = JSON.parse(readFileSync(join(dir, file ?? ''), 'utf8')) as { keys: { policy: object }[] }
    // a cached document that the schema refuses (written by hand here) is refused as the text would be
    stored.keys[0] = { ...stored.keys[0], policy: { gracePeriod: 'later' } }
    writeFileSync(join(dir, file ?? ''), JSON.stringify(stored))
    expect(() => parseConfig(EXAMPLE, 'k.yaml', {}, cache)).toThrow('k.yaml: keys[0].policy.gracePeriod')
  })

  it('parses the text again when the cached document is damaged', () => {
    const cache = parsedYamlCacheIn(dir)
    const parsed = parseConfig(EXAMPLE, 'k.yaml', {}, cache)
    const [file] = cacheFiles()
    writeFileSync(join(dir, file ?? ''), '{"keys": [')
    expect(parseConfig(EXAMPLE, 'k.yaml', {}, cache)).toEqual(parsed)
  })

  it('does not cache a document JSON would change (.inf), and refuses it the same way', () => {
    const cache = parsedYamlCacheIn(dir)
    const text = `${EXAMPLE}\nx-extra: .inf\n`
    let direct: unknown
    try {
      parseConfig(text, 'k.yaml')
    } catch (error) {
      direct = (error as Error).message
    }
    let viaCache: unknown
    try {
      parseConfig(text, 'k.yaml', {}, cache)
    } catch (error) {
      viaCache = (error as Error).message
    }
    expect(viaCache).toEqual(direct)
    expect(cacheFiles()).toHaveLength(0)
  })
})
