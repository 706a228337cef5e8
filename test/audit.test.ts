import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuditLog } from '../src/audit/audit-log.js'
import { isKeyrotorError } from '../src/errors.js'
import { createTestStore, DIALECTS, type TestStore } from './helpers/stores.js'

describe.each(DIALECTS)('audit log on %s', (dialect) => {
  let store: TestStore
  let clock = new Date('2026-03-01T10:00:00.000Z')
  const audit = createAuditLog({ now: () => clock })

  beforeAll(async () => {
    store = await createTestStore(dialect)
  })
  afterAll(async () => {
    await store.dispose()
  })

  it('records an event with all its fields and returns it', async () => {
    const event = await audit.append(store.db, {
      actor: 'olga',
      action: 'rotation.trigger',
      target: 'payments-dek',
      correlationId: 'corr-1',
      reason: 'quarterly',
      details: { runId: 'run_1', attempt: 2 },
    })
    expect(event).toMatchObject({ at: clock.toISOString(), actor: 'olga', target: 'payments-dek' })
    expect(await audit.list(store.db, { correlationId: 'corr-1' })).toEqual([event])
  })

  it('leaves no record of an append inside a rolled-back transaction', async () => {
    const rollback = new Error('the action failed')
    await expect(
      store.db.transaction().execute(async (trx) => {
        await audit.append(trx, { actor: 'olga', action: 'halt.engage', correlationId: 'corr-rb' })
        throw rollback
      }),
    ).rejects.toBe(rollback)
    expect(await audit.list(store.db, { correlationId: 'corr-rb' })).toEqual([])
  })

  it('fails the action transaction when the audit write is refused', async () => {
    await expect(
      store.db.transaction().execute(async (trx) => {
        await trx.updateTable('halt').set({ engaged: 1, reason: 'test' }).where('id', '=', 1).execute()
        await audit.append(trx, { actor: 'x', action: 'halt.engage', details: { secret: 'hunter2' } })
      }),
    ).rejects.toThrow('refusing to audit details.secret')
    const halt = await store.db.selectFrom('halt').select('engaged').executeTakeFirstOrThrow()
    expect(halt.engaged).toBe(0)
  })

  it('lists events in append order, filtered by time, cursor and limit', async () => {
    const seqs: number[] = []
    for (const minute of [1, 2, 3]) {
      clock = new Date(Date.UTC(2026, 2, 2, 0, minute))
      seqs.push(
        (
          await audit.append(store.db, {
            actor: 'sys',
            action: `step.${minute}`,
            correlationId: 'corr-order',
          })
        )?.seq ?? -1,
      )
    }
    const listed = await audit.list(store.db, { correlationId: 'corr-order' })
    expect(listed.map((e) => e.action)).toEqual(['step.1', 'step.2', 'step.3'])
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    expect(new Set(seqs).size).toBe(3)
    const since = await audit.list(store.db, { correlationId: 'corr-order', since: '2026-03-02T00:02:00Z' })
    expect(since.map((e) => e.action)).toEqual(['step.2', 'step.3'])
    const after = await audit.list(store.db, { afterSeq: seqs[0], limit: 1 })
    expect(after.map((e) => e.seq)).toEqual([seqs[1]])
  })

  it('refuses secret-looking details and a token in a value, recording nothing', async () => {
    const token = `kr_${'A'.repeat(43)}`
    for (const details of [
      { token },
      { material: { kty: 'oct' } },
      { jwk: { d: 'x' } },
      { password: 'p' },
      { note: token },
    ]) {
      let caught: unknown
      try {
        await audit.append(store.db, {
          actor: 'x',
          action: 'tokens.create',
          correlationId: 'corr-secret',
          details,
        })
      } catch (error) {
        caught = error
      }
      expect(isKeyrotorError(caught, 'INTERNAL'), JSON.stringify(Object.keys(details))).toBe(true)
      expect((caught as Error).message).not.toContain(token)
    }
    expect(await audit.list(store.db, { correlationId: 'corr-secret' })).toEqual([])
  })

  it('refuses a malformed since time with BAD_REQUEST', async () => {
    await expect(audit.list(store.db, { since: 'yesterday' })).rejects.toSatisfy((e) =>
      isKeyrotorError(e, 'BAD_REQUEST'),
    )
  })
})
