import { describe, expect, it } from 'vitest'
import { sameIdentity } from './identity.js'

describe('sameIdentity', () => {
  it('treats case, width and compatibility forms of one name as one person', () => {
    expect(sameIdentity('Security1', 'security1')).toBe(true)
    expect(sameIdentity('ＳＥＣＵＲＩＴＹ１', 'security1')).toBe(true)
    expect(sameIdentity('Straße', 'STRASSE')).toBe(true)
    expect(sameIdentity('ﬁona', 'FIONA')).toBe(true)
    expect(sameIdentity('ΟΔΥΣΣΕΥΣ', 'οδυσσευς')).toBe(true)
  })

  it('keeps different people apart', () => {
    expect(sameIdentity('security1', 'security2')).toBe(false)
    expect(sameIdentity('ann', 'anna')).toBe(false)
  })
})
