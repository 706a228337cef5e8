/** Where the CLI's text goes: stdout for results, stderr for diagnostics (CONTRACT.md "CLI"). */
export interface Streams {
  stdout: (text: string) => void
  stderr: (text: string) => void
}

export interface Output {
  readonly json: boolean
  /** The command's result: one JSON document with --json, else the human rendering. */
  emit(value: unknown, human: () => string | readonly string[]): void
  /** Progress meant for a person reading along: stdout, or stderr under --json (stdout is the document's). */
  progress(line: string): void
  /** A diagnostic: always stderr. */
  note(line: string): void
  /** Whether the JSON document has been written (so an error document must not follow it). */
  readonly emittedJson: boolean
}

export function createOutput(json: boolean, streams: Streams): Output {
  let emittedJson = false
  return {
    json,
    emit(value, human) {
      if (json) {
        // a second document would break `| jq`; that is a bug in the command, not user input
        if (emittedJson) throw new Error('a command emitted two JSON documents')
        emittedJson = true
        streams.stdout(`${JSON.stringify(value, null, 2)}\n`)
        return
      }
      const rendered = human()
      const lines = typeof rendered === 'string' ? [rendered] : rendered
      for (const line of lines) streams.stdout(`${printable(line)}\n`)
    },
    progress(line) {
      if (json) streams.stderr(`${printable(line)}\n`)
      else streams.stdout(`${printable(line)}\n`)
    },
    note(line) {
      streams.stderr(`${printable(line)}\n`)
    },
    get emittedJson() {
      return emittedJson
    },
  }
}

// C0 controls but tab, DEL, C1 controls (CSI is 0x9b), line and paragraph separators, bidi overrides
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNPRINTABLE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/**
 * One line of human output, safe for a terminal and a scheduler's log: dependents' and providers'
 * text reaches the CLI in failure messages and check details, and a newline, carriage return or
 * escape sequence in it could forge a line (a fake `KEYROTOR-RESULT=SUCCEEDED`), hide one or drive
 * the terminal. Each such character is shown as its escape (`\n`, `\x1b`, `\u202e`) instead.
 */
export function printable(line: string): string {
  const escaped = line.replace(UNPRINTABLE, (char) => {
    if (char === '\n') return '\\n'
    if (char === '\r') return '\\r'
    const code = char.charCodeAt(0)
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`
  })
  // a scheduler's output rule may match the marker anywhere in a line: only keyrotor's own result
  // line, which starts with it, may carry it
  return escaped.slice(0, 1) + escaped.slice(1).replaceAll(RESULT_MARKER, 'KEYROTOR-RESULT\\x3d')
}

const RESULT_MARKER = 'KEYROTOR-RESULT='

/** A plain left-aligned table; cells that are null or undefined show as "-". */
export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string[] {
  const cells = [headers.map(String), ...rows.map((row) => row.map(cell))]
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)))
  return cells.map((row) =>
    row
      .map((value, column) => (column === row.length - 1 ? value : value.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd(),
  )
}

export function cell(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-'
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map(cell).join(',')
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return value.toString()
  return JSON.stringify(value) ?? '-'
}
