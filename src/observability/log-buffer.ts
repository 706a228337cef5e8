import { closeSync, fstatSync, openSync, readSync } from 'node:fs'

/** One log line that carried a correlation id, as the logger wrote it (after redaction). */
export interface LogRecord {
  /** The line as written, without its newline: the identity used to merge buffer and file. */
  line: string
  fields: Record<string, unknown>
}

export interface LogBuffer {
  /** The logger's tap: keeps the line when it carries a correlation id. */
  tap(line: string): void
  /** The kept lines of one correlation id, oldest first. */
  linesFor(correlationId: string): LogRecord[]
}

/** Lines longer than this are not kept: a huge line is a stack dump, not a step of the story. */
const MAX_LINE_CHARS = 16 * 1024

/**
 * The last `capacity` lines this process wrote that carry a `correlationId`, in a ring. It is what
 * lets the timeline show log lines without a log shipper; it forgets on restart (the log file,
 * when there is one, remembers).
 */
export function createLogBuffer(options: { capacity?: number } = {}): LogBuffer {
  const capacity = Math.max(1, options.capacity ?? 5000)
  const ring: (LogRecord | undefined)[] = new Array<LogRecord | undefined>(capacity)
  let next = 0
  return {
    tap(raw) {
      const record = parseLine(raw)
      if (record === undefined) return
      ring[next] = record
      next = (next + 1) % capacity
    },
    linesFor(correlationId) {
      const found: LogRecord[] = []
      for (let i = 0; i < capacity; i++) {
        const record = ring[(next + i) % capacity]
        if (record !== undefined && record.fields.correlationId === correlationId) found.push(record)
      }
      return found
    },
  }
}

/**
 * The lines of one correlation id in the last `maxBytes` of a log file (pino JSON lines). Bounded
 * so that a request never reads a multi-gigabyte file; an unreadable file gives no lines rather
 * than failing the timeline, whose other sources still tell most of the story.
 */
export function readLogFile(path: string, correlationId: string, maxBytes = 8 * 1024 * 1024): LogRecord[] {
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    const size = fstatSync(fd).size
    const length = Math.min(size, maxBytes)
    const buffer = Buffer.alloc(length)
    readSync(fd, buffer, 0, length, size - length)
    const lines = buffer.toString('utf8').split('\n')
    // a read that starts mid-file starts mid-line: that first piece is not a line
    if (length < size) lines.shift()
    const needle = JSON.stringify(correlationId)
    const found: LogRecord[] = []
    for (const line of lines) {
      if (!line.includes(needle)) continue
      const record = parseLine(line)
      if (record?.fields.correlationId === correlationId) found.push(record)
    }
    return found
  } catch {
    return []
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

function parseLine(raw: string): LogRecord | undefined {
  const line = raw.trimEnd()
  // most lines carry no correlation id: skip them without parsing
  if (line.length > MAX_LINE_CHARS || !line.includes('"correlationId"')) return undefined
  try {
    const fields = JSON.parse(line) as unknown
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) return undefined
    const record = fields as Record<string, unknown>
    return typeof record.correlationId === 'string' ? { line, fields: record } : undefined
  } catch {
    return undefined
  }
}

/** The messages of the warnings and errors logged under a correlation id since `since` (ISO time). */
export function loggedProblems(buffer: LogBuffer, correlationId: string, since: string): string[] {
  return buffer
    .linesFor(correlationId)
    .filter(
      (r) => ['warn', 'error', 'fatal'].includes(String(r.fields.level)) && String(r.fields.time) >= since,
    )
    .map((r) => String(r.fields.msg))
}
