/**
 * A small Handlebars-style template language for the JSON bodies of ticketing APIs, with the
 * escaping JSON needs. Handlebars itself escapes for HTML: a quote becomes `&quot;` and a
 * newline or backslash passes through raw, so an incident summary with either breaks the body.
 * Here `{{path}}` writes the value escaped as the inside of a JSON string, `{{json path}}` writes
 * it as a whole JSON value, and the blocks are `{{#if}}`/`{{#unless}}` (with `{{else}}`) and
 * `{{#each}}` (with `{{this}}`, `{{@index}}`, `{{@first}}`, `{{@last}}`). `{{! … }}` and
 * `{{!-- … --}}` are comments.
 * A variable that does not exist is an error, not an empty string: a typo must not open a
 * ticket with a blank title.
 */

export class TemplateError extends Error {
  override readonly name = 'TemplateError'
}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'value'; path: string; json: boolean; at: string }
  | { kind: 'if'; path: string; negate: boolean; then: Node[]; otherwise: Node[]; at: string }
  | { kind: 'each'; path: string; body: Node[]; at: string }

export interface Template {
  render(context: Record<string, unknown>): string
}

const PATH = /^(@index|@first|@last|this(\.[A-Za-z_][\w]*)*|[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*)$/

/** Parses a template; throws TemplateError naming `source:line:col` and what is wrong. */
export function compileTemplate(text: string, source: string): Template {
  const where = (offset: number) => {
    const before = text.slice(0, offset).split('\n')
    return `${source}:${before.length}:${(before.at(-1)?.length ?? 0) + 1}`
  }
  // each open block: its node and the list its body is being written to
  const root: Node[] = []
  const stack: { node: Extract<Node, { kind: 'if' | 'each' }>; into: Node[]; tag: string }[] = []
  const current = () => stack.at(-1)?.into ?? root
  let offset = 0
  while (offset < text.length) {
    const open = text.indexOf('{{', offset)
    if (open === -1) {
      current().push({ kind: 'text', text: text.slice(offset) })
      break
    }
    if (open > offset) current().push({ kind: 'text', text: text.slice(offset, open) })
    // {{!-- … --}} may hold "}}" (an example of template syntax); {{! … }} ends at the first
    if (text.startsWith('{{!--', open)) {
      const end = text.indexOf('--}}', open + 5)
      if (end === -1) throw new TemplateError(`${where(open)}: "{{!--" is never closed with "--}}"`)
      offset = end + 4
      continue
    }
    const close = text.indexOf('}}', open + 2)
    if (close === -1) throw new TemplateError(`${where(open)}: "{{" is never closed with "}}"`)
    const tag = text.slice(open + 2, close).trim()
    const at = where(open)
    offset = close + 2
    if (tag.startsWith('!')) continue
    if (tag.startsWith('#')) {
      const [name, path, ...rest] = tag.slice(1).trim().split(/\s+/)
      if (name !== 'if' && name !== 'unless' && name !== 'each') {
        throw new TemplateError(`${at}: unknown block {{#${name ?? ''}}} (use #if, #unless or #each)`)
      }
      checkPath(path, rest, at, `{{#${name}}}`)
      const node: Extract<Node, { kind: 'if' | 'each' }> =
        name === 'each'
          ? { kind: 'each', path, body: [], at }
          : { kind: 'if', path, negate: name === 'unless', then: [], otherwise: [], at }
      current().push(node)
      stack.push({ node, into: node.kind === 'each' ? node.body : node.then, tag: name })
    } else if (tag === 'else') {
      const top = stack.at(-1)
      if (top === undefined || top.node.kind !== 'if' || top.into === top.node.otherwise) {
        throw new TemplateError(`${at}: {{else}} outside an {{#if}} or {{#unless}}`)
      }
      top.into = top.node.otherwise
    } else if (tag.startsWith('/')) {
      const name = tag.slice(1).trim()
      const top = stack.pop()
      if (top === undefined) throw new TemplateError(`${at}: {{/${name}}} closes no block`)
      if (top.tag !== name) {
        throw new TemplateError(`${at}: {{/${name}}} closes {{#${top.tag}}} opened at ${top.node.at}`)
      }
    } else {
      const [first, second, ...rest] = tag.split(/\s+/)
      const json = first === 'json' && second !== undefined
      const path = json ? second : first
      checkPath(path, json ? rest : [second, ...rest].filter((p) => p !== undefined), at, `{{${tag}}}`)
      current().push({ kind: 'value', path, json, at })
    }
  }
  const open = stack.at(-1)
  if (open !== undefined) throw new TemplateError(`${open.node.at}: {{#${open.tag}}} is never closed`)
  return { render: (context) => renderNodes(root, [context], {}) }
}

function checkPath(
  path: string | undefined,
  rest: readonly string[],
  at: string,
  tag: string,
): asserts path is string {
  if (path === undefined || rest.length > 0 || !PATH.test(path)) {
    throw new TemplateError(`${at}: ${tag} is not a variable reference like incident.title`)
  }
}

type Loop = { '@index'?: number; '@first'?: boolean; '@last'?: boolean }

function renderNodes(nodes: readonly Node[], scopes: readonly unknown[], loop: Loop): string {
  let out = ''
  for (const node of nodes) {
    if (node.kind === 'text') out += node.text
    else if (node.kind === 'value') out += valueText(lookup(node.path, scopes, loop, node.at), node)
    else if (node.kind === 'if') {
      const truthy = isTruthy(lookup(node.path, scopes, loop, node.at, true))
      out += renderNodes(truthy !== node.negate ? node.then : node.otherwise, scopes, loop)
    } else {
      const list = lookup(node.path, scopes, loop, node.at)
      if (!Array.isArray(list)) throw new TemplateError(`${node.at}: {{#each ${node.path}}} is not a list`)
      list.forEach((item: unknown, i) => {
        out += renderNodes(node.body, [...scopes, item], {
          '@index': i,
          '@first': i === 0,
          '@last': i === list.length - 1,
        })
      })
    }
  }
  return out
}

/** `this` is the innermost scope; a bare name is looked up from the innermost scope outwards. */
function lookup(path: string, scopes: readonly unknown[], loop: Loop, at: string, lenient = false): unknown {
  if (path.startsWith('@')) {
    const value = loop[path as keyof Loop]
    if (value === undefined) throw new TemplateError(`${at}: ${path} is only defined inside {{#each}}`)
    return value
  }
  const parts = path.split('.')
  const inner = parts[0] === 'this'
  const names = inner ? parts.slice(1) : parts
  const candidates = inner ? scopes.slice(-1) : [...scopes].reverse()
  for (const scope of candidates) {
    const found = walk(scope, names)
    if (found.ok) return found.value
  }
  // an #if on something absent is false; a value that is absent is a mistake in the template
  if (lenient) return undefined
  throw new TemplateError(`${at}: unknown variable ${path}`)
}

function walk(scope: unknown, names: readonly string[]): { ok: true; value: unknown } | { ok: false } {
  let value = scope
  for (const name of names) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, name)) return { ok: false }
    value = (value as Record<string, unknown>)[name]
  }
  return { ok: true, value }
}

function isTruthy(value: unknown): boolean {
  return Array.isArray(value) ? value.length > 0 : Boolean(value)
}

function valueText(value: unknown, node: Extract<Node, { kind: 'value' }>): string {
  if (node.json) return JSON.stringify(value ?? null)
  if (value === null || value === undefined) return ''
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new TemplateError(`${node.at}: {{${node.path}}} is a list or object; use {{json ${node.path}}}`)
  }
  // the inside of a JSON string literal: quotes, backslashes and control characters escaped
  return JSON.stringify(String(value)).slice(1, -1)
}
