import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isKeyrotorError } from '../src/errors.js'
import { bootstrapAdmin } from '../src/governance/bootstrap-admin.js'
import { createTokenStore, hashToken, type TokenStore } from '../src/governance/tokens.js'
import { createTestStore, DIALECTS, type TestStore } from './helpers/stores.js'

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

describe.each(DIALECTS)('tokens on %s', (dialect) => {
  let store: TestStore
  let clock = new Date('2026-03-01T10:00:00.000Z')
  let tokens: TokenStore

  beforeAll(async () => {
    store = await createTestStore(dialect)
    tokens = createTokenStore(store.db, { now: () => clock })
    const at = clock.toISOString()
    await store.db
      .insertInto('keys')
      .values({
        id: 'payments-dek',
        provider: 'local',
        algorithm: 'aes-256-gcm',
        owner: 'p',
        policy: '{}',
        created_at: at,
        updated_at: at,
      })
      .execute()
  })
  afterAll(async () => {
    await store.dispose()
  })

  it('authenticates a created token as its user and role', async () => {
    const { id, token } = await tokens.create({ user: 'olga', role: 'operator', createdBy: 'admin' })
    expect(id).toMatch(/^tok_[0-9a-f]{16}$/)
    expect(await tokens.authenticate(token)).toEqual({
      id,
      user: 'olga',
      role: 'operator',
      keyId: null,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    })
  })

  it('creates tokens of at least 256 bits, each different', async () => {
    const a = await tokens.create({ user: 'a', role: 'viewer', createdBy: 'admin' })
    const b = await tokens.create({ user: 'b', role: 'viewer', createdBy: 'admin' })
    expect(a.token).toMatch(/^kr_[A-Za-z0-9_-]{43,}$/)
    expect(a.token).not.toBe(b.token)
  })

  it('stores only a sha256 hash that neither equals nor contains the token', async () => {
    const { id, token } = await tokens.create({ user: 'h', role: 'viewer', createdBy: 'admin' })
    const row = await store.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
    expect(row.hash).toBe(hashToken(token))
    expect(row.hash).not.toContain(token.slice(3))
    expect(JSON.stringify(row)).not.toContain(token.slice(3))
  })

  it('refuses unknown, malformed and revoked tokens', async () => {
    const { id, token } = await tokens.create({ user: 'r', role: 'security', createdBy: 'admin' })
    expect(await tokens.authenticate(`kr_${'A'.repeat(43)}`)).toBeNull()
    expect(await tokens.authenticate(token.slice(0, -1))).toBeNull()
    expect(await tokens.authenticate('')).toBeNull()
    const revoked = await tokens.revoke(id)
    expect(revoked.revokedAt).toBe(clock.toISOString())
    expect(await tokens.authenticate(token)).toBeNull()
  })

  it('refuses a token once it has expired', async () => {
    const expiresAt = new Date(clock.getTime() + 3_600_000)
    const { token } = await tokens.create({ user: 'e', role: 'viewer', createdBy: 'admin', expiresAt })
    expect(await tokens.authenticate(token)).not.toBeNull()
    const before = clock
    clock = expiresAt
    try {
      expect(await tokens.authenticate(token)).toBeNull()
    } finally {
      clock = before
    }
  })

  it('binds consumer tokens to a key and refuses keys for other roles', async () => {
    const { token } = await tokens.create({
      user: 'svc',
      role: 'consumer',
      keyId: 'payments-dek',
      createdBy: 'admin',
    })
    expect((await tokens.authenticate(token))?.keyId).toBe('payments-dek')
    const unbound = await errorOf(tokens.create({ user: 'svc', role: 'consumer', createdBy: 'admin' }))
    expect(isKeyrotorError(unbound, 'BAD_REQUEST') && unbound.message).toContain('must be bound to a key')
    const bound = await errorOf(
      tokens.create({ user: 'o', role: 'operator', keyId: 'payments-dek', createdBy: 'admin' }),
    )
    expect(isKeyrotorError(bound, 'BAD_REQUEST')).toBe(true)
    const unknown = await errorOf(
      tokens.create({ user: 's', role: 'consumer', keyId: 'nope', createdBy: 'admin' }),
    )
    expect(isKeyrotorError(unknown, 'UNKNOWN_KEY')).toBe(true)
  })

  it('lists tokens with their metadata and no secret or hash', async () => {
    const { id, token } = await tokens.create({ user: 'listed', role: 'admin', createdBy: 'root' })
    await tokens.authenticate(token)
    const listed = (await tokens.list()).find((t) => t.id === id)
    expect(listed).toEqual({
      id,
      user: 'listed',
      role: 'admin',
      key: null,
      createdAt: clock.toISOString(),
      createdBy: 'root',
      expiresAt: null,
      revokedAt: null,
      lastUsedAt: clock.toISOString(),
    })
    const text = JSON.stringify(await tokens.list())
    expect(text).not.toContain(token.slice(3))
    expect(text).not.toContain(hashToken(token))
  })

  it('answers NOT_FOUND when revoking an unknown token', async () => {
    expect(isKeyrotorError(await errorOf(tokens.revoke('tok_nope')), 'NOT_FOUND')).toBe(true)
  })
})

describe.each(DIALECTS)('bootstrapAdmin on %s', (dialect) => {
  it('mints one admin token and refuses a second while it is valid', async () => {
    const store = await createTestStore(dialect)
    try {
      const first = await bootstrapAdmin(store.db)
      expect(await createTokenStore(store.db).authenticate(first.token)).toMatchObject({
        user: 'admin',
        role: 'admin',
      })
      expect(isKeyrotorError(await errorOf(bootstrapAdmin(store.db)), 'CONFLICT')).toBe(true)
      await createTokenStore(store.db).revoke(first.id)
      const second = await bootstrapAdmin(store.db)
      expect(second.token).not.toBe(first.token)
    } finally {
      await store.dispose()
    }
  })
})
