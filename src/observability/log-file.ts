import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import type { DestinationStream } from 'pino'
import type { Metrics } from './metrics.js'
import type { Readiness } from './readiness.js'

export interface LogFileEvents {
  /** A line could not be written (disk full, I/O error) and was dropped; `error.code` says why. */
  dropped(error: NodeJS.ErrnoException): void
  /** Lines are written again after `dropped` of them were lost. */
  recovered(dropped: number): void
}

export interface LogFile extends DestinationStream {
  /** fsync; pino's `logger.flush()` calls it. */
  flush(callback?: (error?: Error) => void): void
  end(): void
}

/**
 * The `--log-file` destination. Logging must never take the server down: a line that cannot be
 * written (ENOSPC on a full volume, EIO) is dropped and counted, and writing resumes by itself
 * when space returns, with one line saying how many were lost. pino's own file stream emits
 * 'error' on such a write, which ends the process.
 *
 * Writes are synchronous (the lines before a crash are the ones an incident review needs). The
 * file is created 0600: log lines carry actors, key names and dependents' answers.
 */
export function openLogFile(path: string, events: LogFileEvents): LogFile {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const fd = openSync(path, 'a', 0o600)
  let dropped = 0

  /** Writes all of `text` or none of it: a line cut by a full disk is taken back out. */
  function writeAll(text: string): void {
    const bytes = Buffer.from(text)
    let offset = 0
    try {
      while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset)
    } catch (error) {
      if (offset > 0) {
        try {
          ftruncateSync(fd, fstatSync(fd).size - offset)
        } catch {
          // the file keeps a cut line; readers skip lines that are not JSON
        }
      }
      throw error
    }
  }

  return {
    write(line: string) {
      try {
        if (dropped > 0) {
          const notice = JSON.stringify({
            time: new Date().toISOString(),
            level: 'warn',
            msg: `${dropped} log lines were dropped: the log file could not be written`,
            droppedLines: dropped,
          })
          writeAll(`${notice}\n`)
          const lost = dropped
          dropped = 0
          events.recovered(lost)
        }
        writeAll(line)
      } catch (error) {
        dropped++
        events.dropped(error as NodeJS.ErrnoException)
      }
    },
    flush(callback) {
      try {
        fsyncSync(fd)
      } catch {
        // nothing more can be done for lines the disk refuses
      }
      callback?.()
    },
    end() {
      closeSync(fd)
    },
  }
}

/**
 * Log lines a full disk refused: counted (`keyrotor_log_lines_dropped_total`) and reported by
 * /readyz until lines are written again. The server goes on serving meanwhile.
 */
export function logFileHealth(metrics: Pick<Metrics, 'logLineDropped'>, readiness: Readiness): LogFileEvents {
  let total = 0
  return {
    dropped(error) {
      total++
      metrics.logLineDropped(error.code ?? 'unknown')
      readiness.set(
        'log',
        `the log file cannot be written (${error.code ?? error.message}); ${total} lines dropped`,
      )
    },
    recovered() {
      total = 0
      readiness.clear('log')
    },
  }
}
