import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ACTIONS, PERMISSIONS } from '../../src/governance/permissions.js'
import { ROLES } from '../../src/domain/roles.js'

describe('docs/security.md', () => {
  it('shows the same role matrix as PERMISSIONS, action by action', () => {
    const doc = readFileSync('docs/security.md', 'utf8')
    const table = doc.split('<!-- role-matrix:start -->')[1]?.split('<!-- role-matrix:end -->')[0] ?? ''
    const rows = table
      .split('\n')
      .filter((l) => l.startsWith('| `'))
      .map((l) =>
        l
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim()),
      )
    const header = table
      .split('\n')
      .find((l) => l.startsWith('| action'))
      ?.split('|')
      .slice(2, -1)
      .map((c) => c.trim())
    expect(header).toEqual([...ROLES])
    const documented = Object.fromEntries(
      rows.map(([action, ...marks]) => [
        (action ?? '').replace(/`/g, ''),
        ROLES.filter((_, i) => marks[i] === '✓'),
      ]),
    )
    const actual = Object.fromEntries(
      ACTIONS.map((a) => [a, ROLES.filter((r) => PERMISSIONS[a].includes(r))]),
    )
    expect(documented).toEqual(actual)
  })
})
