import { describe, expect, it } from 'vitest'
import { parseRunbook, splitCommand } from './runbook-file.js'

describe('runbook files', () => {
  it('reads the front matter and runs only sh blocks, with their roles and expected exits', () => {
    const book = parseRunbook(
      [
        '---',
        'scenario: failed-rotation',
        'reviewed: 2026-11-30',
        '---',
        '# Runbook: a rotation failed',
        '```text',
        '$ keyrotor runs list',
        '```',
        '```sh',
        'keyrotor runs list --state failed',
        '# expect exit 1',
        'keyrotor runs retry <run id>',
        '# as security',
        'keyrotor approvals approve <approval id>',
        '```',
        '```sh drill',
        'keyrotor drill fix',
        '```',
      ].join('\n'),
    )
    expect(book).toMatchObject({
      title: 'Runbook: a rotation failed',
      scenario: 'failed-rotation',
      reviewed: '2026-11-30',
    })
    expect(book.commands.map((c) => [c.line, c.role, c.expectExit, c.drillOnly, c.lineNumber])).toEqual([
      ['keyrotor runs list --state failed', 'operator', 0, false, 10],
      ['keyrotor runs retry <run id>', 'operator', 1, false, 12],
      ['keyrotor approvals approve <approval id>', 'security', 0, false, 14],
      ['keyrotor drill fix', 'operator', 0, true, 17],
    ])
  })

  it('has no review date when the front matter lacks one or is malformed', () => {
    expect(parseRunbook('# no front matter\n').reviewed).toBeNull()
    expect(parseRunbook('---\nreviewed: last week\n---\n# x\n').reviewed).toBeNull()
  })

  it('splits quoted words as a shell does', () => {
    expect(splitCommand(`keyrotor rotate k --reason "v1 leaked: 'public' repo" --wait`)).toEqual([
      'keyrotor',
      'rotate',
      'k',
      '--reason',
      "v1 leaked: 'public' repo",
      '--wait',
    ])
    expect(() => splitCommand('keyrotor halt --reason "open')).toThrow(/unterminated/)
  })
})
