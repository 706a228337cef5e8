import { readFileSync } from 'node:fs'
import { isIP, connect as tcpConnect, type Socket } from 'node:net'
import { hostname } from 'node:os'
import { connect as tlsConnect } from 'node:tls'
import type { AuditSinkConfig } from '../../config/schema.js'
import type { AuditEvent } from '../audit-log.js'
import { auditSinkId, recordLine, type AuditSink, type AuditSinkContext } from './audit-sink.js'

type SyslogConfig = Extract<AuditSinkConfig, { type: 'syslog' }>

/** facility 13 (log audit), severity 6 (informational): RFC 5424 §6.2.1. */
const PRI = 13 * 8 + 6
/** SD-ID of keyrotor's structured data; 32473 is the example enterprise number of RFC 5612. */
export const SD_ID = 'keyrotor@32473'

/**
 * RFC 5424 over TCP (RFC 6587 octet counting) or TLS (RFC 5425). The structured data carries
 * seq, hash, prevHash and correlation id so a SIEM can index and check the chain; the MSG is the
 * record's JSON line, the same as `audit export`. A write counts once the kernel took it: plain
 * syslog has no application acknowledgement, so a collector that dies may lose what was in flight.
 */
export function createSyslogSink(config: SyslogConfig, context: AuditSinkContext): AuditSink {
  const separator = config.address.lastIndexOf(':')
  const host = config.address.slice(0, separator).replace(/^\[|\]$/g, '')
  const port = Number(config.address.slice(separator + 1))
  const ca = config.caFile === undefined ? undefined : readFileSync(config.caFile)
  const origin = { hostname: hostname() || '-', procId: String(process.pid), appName: config.appName }
  let socket: Socket | undefined

  function open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const fresh = config.tls
        ? tlsConnect({ host, port, ca, ...(isIP(host) === 0 ? { servername: host } : {}) }, () =>
            resolve(fresh),
          )
        : tcpConnect({ host, port }, () => resolve(fresh))
      fresh.setTimeout(context.timeoutMs, () =>
        fresh.destroy(new Error(`no answer in ${context.timeoutMs} ms`)),
      )
      fresh.once('error', reject)
      // a collector that goes away: forget the socket, the next send connects again
      fresh.on('error', () => undefined)
      fresh.on('close', () => {
        if (socket === fresh) socket = undefined
      })
      fresh.on('data', () => undefined)
    })
  }

  return {
    id: auditSinkId(config),
    type: 'syslog',
    async send(records) {
      socket ??= await open()
      const current = socket
      const frames = records.map((record) => {
        const message = Buffer.from(syslogMessage(record, origin))
        return Buffer.concat([Buffer.from(`${message.length} `), message])
      })
      await new Promise<void>((resolve, reject) => {
        current.write(Buffer.concat(frames), (error) => (error ? reject(error) : resolve()))
      }).catch((error: unknown) => {
        current.destroy()
        throw error
      })
    },
    async close() {
      socket?.end()
      socket = undefined
    },
  }
}

/** One RFC 5424 message (without framing). */
export function syslogMessage(
  record: AuditEvent,
  origin: { hostname: string; procId: string; appName: string },
): string {
  const params: [string, string | null][] = [
    ['seq', String(record.seq)],
    ['hash', record.hash],
    ['prevHash', record.prevHash],
    ['correlationId', record.correlationId],
    ['action', record.action],
  ]
  const sd = params
    .filter((p): p is [string, string] => p[1] !== null)
    .map(([name, value]) => `${name}="${escapeParam(value)}"`)
    .join(' ')
  const msgId = printable(record.action, 32)
  const head = `<${PRI}>1 ${record.at} ${printable(origin.hostname, 255)} ${origin.appName} ${printable(origin.procId, 128)} ${msgId}`
  return `${head} [${SD_ID} ${sd}] ${recordLine(record)}`
}

/** RFC 5424 §6.3.3: `"`, `\` and `]` are escaped with a backslash inside PARAM-VALUE. */
function escapeParam(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`)
}

/** Header fields are PRINTUSASCII (33-126) with a length limit; `-` when nothing is left. */
function printable(value: string, max: number): string {
  const kept = value.replace(/[^!-~]/g, '').slice(0, max)
  return kept.length === 0 ? '-' : kept
}
