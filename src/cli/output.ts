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
      for (const line of lines) streams.stdout(`${line}\n`)
    },
    progress(line) {
      if (json) streams.stderr(`${line}\n`)
      else streams.stdout(`${line}\n`)
    },
    note(line) {
      streams.stderr(`${line}\n`)
    },
    get emittedJson() {
      return emittedJson
    },
  }
}

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
