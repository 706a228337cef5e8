import { describe, expect, it } from 'vitest'
import { assertClosable } from './incidents.js'

describe('closing an incident', () => {
  it('closes an open incident with an RCA', () => {
    expect(() => assertClosable({ id: 'inc_1', state: 'open', closedBy: null }, 'expired cert')).not.toThrow()
  })

  it('refuses a close without an RCA, even of an open incident', () => {
    expect(() => assertClosable({ id: 'inc_1', state: 'open', closedBy: null }, '  ')).toThrow(
      expect.objectContaining({ code: 'BAD_REQUEST' }),
    )
  })

  it('refuses to close a closed incident again, naming who closed it', () => {
    expect(() => assertClosable({ id: 'inc_1', state: 'closed', closedBy: 'sam' }, 'again')).toThrow(
      expect.objectContaining({ code: 'CONFLICT', message: 'incident inc_1 is closed already (by sam)' }),
    )
  })
})
