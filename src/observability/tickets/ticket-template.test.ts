import { describe, expect, it } from 'vitest'
import { compileTemplate, TemplateError } from './ticket-template.js'

const render = (text: string, context: Record<string, unknown>) =>
  compileTemplate(text, 't.hbs').render(context)

describe('ticket templates', () => {
  it('escapes values for a JSON string, so quotes, backslashes and newlines keep the body valid', () => {
    const summary = 'said "stop"\\ then\nleft\u0001'
    const body = render('{"summary": "{{incident.summary}}"}', { incident: { summary } })
    expect(JSON.parse(body)).toEqual({ summary })
  })

  it('writes whole JSON values with json, null included', () => {
    const body = render('{"to": {{json incident.escalatedTo}}, "rca": {{json incident.rca}}}', {
      incident: { escalatedTo: ['security-lead', 'a"b'], rca: null },
    })
    expect(JSON.parse(body)).toEqual({ to: ['security-lead', 'a"b'], rca: null })
  })

  it('renders if/else, unless and each with this, @index and @last', () => {
    const text =
      '{{#if opened}}open{{else}}not{{/if}} {{#unless closed}}live{{/unless}} ' +
      '[{{#each list}}{{@index}}={{this}}{{#unless @last}},{{/unless}}{{/each}}] {{#each people}}{{name}}@{{team}};{{/each}}'
    expect(
      render(text, {
        opened: false,
        closed: false,
        team: 'sec',
        list: ['a', 'b'],
        people: [{ name: 'ann' }, { name: 'bo', team: 'ops' }],
      }),
    ).toBe('not live [0=a,1=b] ann@sec;bo@ops;')
  })

  it('refuses an unknown variable with its file, line and column instead of rendering it empty', () => {
    const template = compileTemplate('{\n  "title": "{{incident.titel}}"\n}', 'ticket.hbs')
    expect(() => template.render({ incident: { title: 'x' } })).toThrow(
      new TemplateError('ticket.hbs:2:13: unknown variable incident.titel'),
    )
  })

  it.each([
    ['{{#if opened}}x', 't.hbs:1:1: {{#if}} is never closed'],
    ['{{#if opened}}x{{/each}}', 't.hbs:1:16: {{/each}} closes {{#if}} opened at t.hbs:1:1'],
    ['x {{title', 't.hbs:1:3: "{{" is never closed with "}}"'],
    ['{{#with a}}{{/with}}', 't.hbs:1:1: unknown block {{#with}} (use #if, #unless or #each)'],
    ['{{else}}', 't.hbs:1:1: {{else}} outside an {{#if}} or {{#unless}}'],
    ['{{a b}}', 't.hbs:1:1: {{a b}} is not a variable reference like incident.title'],
    ['{{/if}}', 't.hbs:1:1: {{/if}} closes no block'],
    ['ok {{!-- open', 't.hbs:1:4: "{{!--" is never closed with "--}}"'],
  ])('refuses the template %j when it is parsed', (text, message) => {
    expect(() => compileTemplate(text, 't.hbs')).toThrow(new TemplateError(message))
  })

  it('ignores comments and refuses an object where a string belongs', () => {
    expect(render('{{! a note }}ok{{!-- shows {{incident.id}} --}}!', {})).toBe('ok!')
    expect(() => render('{{incident}}', { incident: {} })).toThrow('use {{json incident}}')
  })
})
