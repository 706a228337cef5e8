import { describe, expect, it } from 'vitest'
import { ACTIONS, can, type Action } from '../../src/governance/permissions.js'

describe('the operator role (playbook: "Ownership and Access Control")', () => {
  const operator = ACTIONS.filter((action) => can('operator', action))

  it('may view, trigger approved workflows, drive runs and acknowledge alerts — nothing more', () => {
    // views: reads and the read-only checks (verify compares store, provider and dependents;
    // validate parses a file); any new operator power must be added here on purpose
    const views = ACTIONS.filter((a) => a.endsWith('.read') && a !== 'material.read')
    const expected = [
      ...views,
      'keys.verify',
      'config.validate',
      'rotation.trigger',
      // a request only: the run waits for a security approval operators cannot give
      'rotation.forward-correct',
      'runs.verify',
      'runs.retry',
      'runs.cancel',
      'alerts.ack',
    ]
    expect([...operator].sort()).toEqual([...expected].sort())
  })

  it('may not halt, release, approve, close incidents, change config, manage tokens or read material', () => {
    const forbidden: Action[] = [
      'halt.engage',
      'halt.release',
      'approvals.decide',
      'incidents.close',
      'config.propose',
      'config.apply',
      'tokens.manage',
      'material.read',
    ]
    expect(forbidden.filter((a) => can('operator', a))).toEqual([])
  })
})
