import { describe, expect, it } from 'vitest'
import { adfProblem } from './helpers/adf.js'
import { adf } from '../src/observability/tickets/jira-tickets.js'

describe('plain text as Atlassian Document Format', () => {
  it.each([
    ['one line', 'Resolved.'],
    ['paragraphs and lines', '# RCA\n\nline one\nline two\n\n\n\nlast'],
    ['blank and trailing lines', '\n\nfirst\n   \n\nafter spaces\n'],
    ['only whitespace', ' \n \n'],
  ])('keeps %s a document Atlassian’s schema accepts', (_name, text) => {
    expect(adfProblem(adf(text))).toBeNull()
  })

  it('makes a paragraph of each block and joins its lines with hard breaks', () => {
    expect(adf('a\nb\n\nc')).toEqual({
      version: 1,
      type: 'doc',
      content: [
        {
          type: 'paragraph',
          content: [{ type: 'text', text: 'a' }, { type: 'hardBreak' }, { type: 'text', text: 'b' }],
        },
        { type: 'paragraph', content: [{ type: 'text', text: 'c' }] },
      ],
    })
  })
})
