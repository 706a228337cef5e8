import { writeFileSync } from 'node:fs'
import type SqliteDatabase from 'better-sqlite3'
import { hashRecord, GENESIS_HASH, type ChainedRow } from '../src/audit/chain.js'
import { configHash } from '../src/config/config-hash.js'
import { parseConfig } from '../src/config/load-config.js'
import { kidOf } from '../src/domain/algorithms.js'
import { generateMaterial } from '../src/providers/local/material.js'
import { createSealer } from '../src/providers/local/sealing.js'

export const scaleKeyId = (index: number): string => `scale-${String(index).padStart(6, '0')}`

const BATCH = 5_000

/** The chain's head after the writes so far: the next record chains to it. */
export interface ChainCursor {
  seq: number
  hash: string
}

/**
 * Enrols `keys` keys the way the server's first start does (config version 1 with the file's text
 * and hash, `config.bootstrapped` and one `key.enrolled` audit record per key, the local provider's
 * sealed material, aliases, dependents), but in transactions of thousands of keys instead of one
 * per key: the server enrols ~25 keys/s on this shared machine, 100,000 would take over an hour.
 * The config is parsed and hashed with the server's own code and the material is real, sealed with
 * the data dir's master key, so the server started on this store finds its config unchanged and
 * every key enrolled, and `audit verify` accepts the chain.
 */
export async function enrolKeys(
  sqlite: SqliteDatabase.Database,
  options: {
    keys: number
    configPath: string
    masterKey: Buffer
    auditKey: Buffer
    /** Each key's one dependent (an http probe nobody answers); none: rotations need no probe. */
    dependents?: boolean
  },
): Promise<ChainCursor> {
  const text = configYaml(options.keys, options.dependents ?? true)
  writeFileSync(options.configPath, text)
  const config = parseConfig(text, options.configPath)
  const at = new Date().toISOString()
  const hash = configHash(config)
  const sealer = createSealer(options.masterKey)
  // init may have chained records already (the admin token's creation): continue from its head
  const head = sqlite.prepare('select seq, hash from audit_events order by seq desc limit 1').get() as
    ChainCursor | undefined
  const chain: ChainCursor = head ?? { seq: 0, hash: GENESIS_HASH }
  const insertAudit = sqlite.prepare(
    `insert into audit_events (seq, at, actor, action, target, correlation_id, reason, details, prev_hash, hash)
     values (?, ?, ?, ?, ?, null, null, ?, ?, ?)`,
  )
  const audit = (action: string, target: string, details: object) => {
    const row: ChainedRow = {
      seq: chain.seq + 1,
      at,
      actor: 'keyrotor',
      action,
      target,
      correlation_id: null,
      reason: null,
      details: JSON.stringify(details),
      prev_hash: chain.hash,
    }
    const rowHash = hashRecord(options.auditKey, row)
    insertAudit.run(row.seq, row.at, row.actor, row.action, row.target, row.details, row.prev_hash, rowHash)
    chain.seq = row.seq
    chain.hash = rowHash
  }
  sqlite.transaction(() => {
    sqlite
      .prepare(
        `insert into config_versions (version, hash, body, source, created_at, created_by, active) values (1, ?, ?, ?, ?, 'keyrotor', 1)`,
      )
      .run(hash, text, options.configPath, at)
    audit('config.bootstrapped', 'config:v1', { source: options.configPath, hash, keys: config.keys.length })
  })()

  const insertKey = sqlite.prepare(
    `insert into keys (id, provider, algorithm, owner, policy, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?)`,
  )
  const insertVersion = sqlite.prepare(
    `insert into key_versions (key_id, version, state, compromised, provider_ref, created_at, updated_at)
     values (?, 1, 'active', 0, ?, ?, ?)`,
  )
  const insertAlias = sqlite.prepare(`insert into key_aliases (name, key_id, version) values (?, ?, 1)`)
  const insertDependent = sqlite.prepare(
    `insert into dependents (key_id, name, critical, probe, notify) values (?, ?, ?, ?, ?)`,
  )
  const insertMaterial = sqlite.prepare(
    `insert into local_keystore (key_id, version, algorithm, state, sealed_material, public_jwk, created_at)
     values (?, 1, ?, 'enabled', ?, ?, ?)`,
  )
  const insertLocalAlias = sqlite.prepare(
    `insert into local_aliases (key_id, alias, version) values (?, ?, 1)`,
  )
  const writeBatch = sqlite.transaction(
    (batch: typeof config.keys, materials: Awaited<ReturnType<typeof generateMaterial>>[]) => {
      batch.forEach((key, i) => {
        const material = materials[i]
        if (material === undefined) throw new Error(`no material for ${key.id}`)
        const kid = kidOf(key.id, 1)
        insertMaterial.run(
          key.id,
          key.algorithm,
          sealer.seal(JSON.stringify(material.privateJwk), kid),
          material.publicJwk === null ? null : JSON.stringify(material.publicJwk),
          at,
        )
        for (const alias of key.aliases) insertLocalAlias.run(key.id, alias)
        insertKey.run(key.id, key.provider, key.algorithm, key.owner, JSON.stringify(key.policy), at, at)
        insertVersion.run(key.id, `local:${kid}`, at, at)
        for (const alias of key.aliases) insertAlias.run(alias, key.id)
        for (const d of key.dependents) {
          insertDependent.run(
            key.id,
            d.name,
            d.critical ? 1 : 0,
            JSON.stringify(d.probe),
            d.notify === undefined ? null : JSON.stringify(d.notify),
          )
        }
        audit('key.enrolled', key.id, { provider: key.provider, algorithm: key.algorithm, configVersion: 1 })
      })
    },
  )
  for (let from = 0; from < config.keys.length; from += BATCH) {
    const batch = config.keys.slice(from, from + BATCH)
    writeBatch(batch, await Promise.all(batch.map((key) => generateMaterial(key.id, 1, key.algorithm))))
  }
  return chain
}

export function configYaml(keys: number, dependents: boolean): string {
  const lines = ['keys:']
  for (let i = 0; i < keys; i++) {
    const id = scaleKeyId(i)
    lines.push(
      `  - id: ${id}`,
      '    provider: local',
      '    algorithm: aes-256-gcm',
      `    owner: team-${i % 50}`,
      `    aliases: [alias/${id}]`,
      ...(dependents
        ? [
            '    dependents:',
            `      - { name: app, probe: { http: "http://app.${id}.scale.invalid/keyrotor/probe" } }`,
          ]
        : ['    dependents: []']),
    )
  }
  return `${lines.join('\n')}\n`
}
