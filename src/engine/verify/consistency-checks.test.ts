import { describe, expect, it } from 'vitest'
import { compareVersionStates } from './consistency-checks.js'

describe('compareVersionStates', () => {
  it('accepts a destroyed version the backend no longer has (KMS after the deletion window)', () => {
    expect(
      compareVersionStates(
        [
          { version: 1, state: 'destroyed' },
          { version: 2, state: 'active' },
        ],
        [{ version: 2, state: 'enabled' }],
      ),
    ).toEqual([])
  })

  it('still reports a live version the backend lost, and a destroyed one it shows enabled', () => {
    expect(
      compareVersionStates(
        [
          { version: 1, state: 'destroyed' },
          { version: 2, state: 'active' },
        ],
        [{ version: 1, state: 'enabled' }],
      ),
    ).toEqual([
      { version: 1, store: 'destroyed', provider: 'enabled' },
      { version: 2, store: 'active', provider: null },
    ])
  })
})
