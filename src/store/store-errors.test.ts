import { describe, expect, it } from 'vitest'
import { KeyrotorError } from '../errors.js'
import {
  isRetryableBeforeCommit,
  isRolledBackAtCommit,
  isStoreFailure,
  storeUnavailable,
} from './store-errors.js'

const err = (code: string, message = 'x') => Object.assign(new Error(message), { code })

describe('store errors', () => {
  it.each([
    ['SQLITE_FULL', 'its disk is full'],
    ['SQLITE_CORRUPT', 'the database file is damaged'],
    ['SQLITE_IOERR_WRITE', 'I/O error'],
    ['53100', 'its disk is full'],
    ['57P01', 'the database connection was lost'],
    ['ECONNREFUSED', 'the database connection was lost'],
  ])('takes %s for the store being unavailable (%s)', (code, reason) => {
    expect(isStoreFailure(err(code))).toBe(true)
    const coded = storeUnavailable(err(code))
    expect([coded.code, coded.retryable]).toEqual(['STORE_UNAVAILABLE', true])
    expect(coded.message).toContain(reason)
  })

  it('finds a lost connection under a wrapping error, but not under another coded error', () => {
    const lost = new Error('Connection terminated unexpectedly')
    expect(isStoreFailure(new Error('wrapped', { cause: lost }))).toBe(true)
    // a dependent's refused connection is the dependent's problem, not the store's
    const dependent = new KeyrotorError('DEPENDENCY_NOT_READY', 'refused', { cause: err('ECONNREFUSED') })
    expect(isStoreFailure(dependent)).toBe(false)
    expect(isStoreFailure(err('23505'))).toBe(false)
  })

  it('runs a transaction again only when nothing of it can have committed', () => {
    expect(isRetryableBeforeCommit(err('40P01'))).toBe(true)
    expect(isRetryableBeforeCommit(new Error('Connection terminated unexpectedly'))).toBe(true)
    expect(isRetryableBeforeCommit(err('23505'))).toBe(false)
    // at COMMIT only a server-side rollback is certain; a lost answer may have committed
    expect(isRolledBackAtCommit(err('40001'))).toBe(true)
    expect(isRolledBackAtCommit(new Error('Connection terminated unexpectedly'))).toBe(false)
  })
})
