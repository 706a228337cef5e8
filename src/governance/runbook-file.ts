import { parse as parseYaml } from 'yaml'

/**
 * A runbook in docs/runbooks/: markdown with a front matter (`scenario:`, `reviewed:`) and its
 * commands in fenced blocks. The convention (docs/runbooks/README.md): a block whose info string
 * is `sh` (or `sh drill`, for a step only a drill has) holds commands exactly as typed, one per
 * line; `# as ROLE` says who types the lines after it, `# expect exit N` that the next command is
 * meant to exit N, `# rerun while exit N` that it is rerun (as a scheduler would) until it does
 * not, `# rerun while empty` that it is rerun until the list it prints is not empty; every other block is example output, never run.
 */
export interface RunbookFile {
  title: string
  scenario: string | null
  reviewed: string | null
  commands: RunbookCommand[]
}

export interface RunbookCommand {
  line: string
  /** 1-based line in the file, for a failure message that points at it. */
  lineNumber: number
  role: string
  expectExit: number
  rerunWhileExit: number | null
  /** Rerun while it prints an empty list: a person watching for something to appear. */
  rerunWhileEmpty: boolean
  drillOnly: boolean
}

const FENCE = /^```(.*)$/

export function parseRunbook(text: string): RunbookFile {
  const lines = text.split('\n')
  const { meta, bodyStart } = frontMatter(lines)
  const title =
    lines
      .slice(bodyStart)
      .find((l) => l.startsWith('# '))
      ?.slice(2)
      .trim() ?? ''
  const commands: RunbookCommand[] = []
  let block: { drillOnly: boolean; role: string } | null = null
  let inOther = false
  let expectExit = 0
  let rerunWhileExit: number | null = null
  let rerunWhileEmpty = false
  for (let i = bodyStart; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim()
    const fence = FENCE.exec(line)
    if (fence !== null) {
      const info = (fence[1] ?? '').trim()
      if (block !== null || inOther) {
        block = null
        inOther = false
      } else if (info === 'sh' || info === 'sh drill') {
        block = { drillOnly: info === 'sh drill', role: 'operator' }
      } else {
        inOther = true
      }
      continue
    }
    if (block === null || line === '') continue
    if (/^#\s*rerun while empty\s*$/.test(line)) {
      rerunWhileEmpty = true
      continue
    }
    const directive = /^#\s*(as|expect exit|rerun while exit)\s+(\S+)\s*$/.exec(line)
    if (directive !== null) {
      const [, name, value] = directive
      if (name === 'as') block.role = value ?? 'operator'
      else if (name === 'expect exit') expectExit = Number(value)
      else rerunWhileExit = Number(value)
      continue
    }
    if (line.startsWith('#')) continue
    commands.push({
      line,
      lineNumber: i + 1,
      role: block.role,
      expectExit,
      rerunWhileExit,
      rerunWhileEmpty,
      drillOnly: block.drillOnly,
    })
    expectExit = 0
    rerunWhileExit = null
    rerunWhileEmpty = false
  }
  return {
    title,
    scenario: typeof meta.scenario === 'string' ? meta.scenario : null,
    reviewed: reviewedDate(meta.reviewed),
    commands,
  }
}

function frontMatter(lines: string[]): { meta: Record<string, unknown>; bodyStart: number } {
  if (lines[0]?.trim() !== '---') return { meta: {}, bodyStart: 0 }
  const end = lines.findIndex((l, i) => i > 0 && l.trim() === '---')
  if (end < 0) return { meta: {}, bodyStart: 0 }
  const parsed: unknown = parseYaml(lines.slice(1, end).join('\n'))
  const meta = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {}
  return { meta, bodyStart: end + 1 }
}

/** YAML reads an unquoted 2026-12-01 as a date; either way the runbook means that day. */
function reviewedDate(value: unknown): string | null {
  if (value instanceof Date) return value.toISOString().slice(0, 10)
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) return value
  return null
}

/** Splits a command line as a POSIX shell would for plain words and '…' / "…" quoting. */
export function splitCommand(line: string): string[] {
  const words: string[] = []
  let word: string | null = null
  let quote: '"' | "'" | null = null
  for (const ch of line) {
    if (quote !== null) {
      if (ch === quote) quote = null
      else word = (word ?? '') + ch
    } else if (ch === '"' || ch === "'") {
      quote = ch
      word ??= ''
    } else if (/\s/.test(ch)) {
      if (word !== null) words.push(word)
      word = null
    } else {
      word = (word ?? '') + ch
    }
  }
  if (quote !== null) throw new Error(`unterminated ${quote} in: ${line}`)
  if (word !== null) words.push(word)
  return words
}
