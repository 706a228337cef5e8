import type { Command } from 'commander'
import { KeyrotorError } from '../errors.js'
import { EXIT } from './exit-codes.js'
import { leaf, str } from './session.js'
import type { Act } from './session.js'
import type { AuditChainReportView } from '../client/views.js'

/** What `GET /v1/audit/verify` answers, as the server declares it (keyrotor/client). */
export type AuditVerifyReport = AuditChainReportView

const PAGE = 5000

export function registerAudit(program: Command, act: Act): void {
  const audit = program.command('audit').description('the hash-chained audit log')

  leaf(audit, 'verify', 'check the hash chain end to end (exit 1 when broken)')
    .option('--export <file>', 'check an exported or streamed copy (JSON lines) offline, without the server')
    .option('--data-dir <dir>', 'with --export: the data dir whose master key gives the chain key')
    .action(
      act(async ({ api, ctx, out, opts }) => {
        const file = str(opts, 'export')
        if (file !== undefined) {
          const { verifyExportFile } = await import('./audit-verify-export.js')
          return verifyExportFile(file, str(opts, 'dataDir'), ctx.env.masterKey, out)
        }
        const report = (await api().call('verifyAudit')).body
        for (const warning of report.warnings ?? []) out.note(`warning: ${warning}`)
        out.emit(report, () =>
          report.valid
            ? `audit chain intact: ${report.checked} records`
            : `audit chain BROKEN after ${report.checked} records${report.brokenAt ? ` at #${report.brokenAt.seq}: ${report.brokenAt.reason}` : ''}`,
        )
        return report.valid ? EXIT.ok : EXIT.runFailed
      }),
    )

  leaf(audit, 'export', 'export audit records as JSON lines (a JSON array with --json)')
    .option('--since <time>', 'only records at or after this ISO 8601 time')
    .action(
      act(async ({ api, out, opts }) => {
        const since = str(opts, 'since')
        if (since !== undefined && Number.isNaN(Date.parse(since))) {
          throw new KeyrotorError(
            'BAD_REQUEST',
            `--since: "${since}" is not a time (use ISO 8601, e.g. 2026-11-26T00:00:00Z)`,
          )
        }
        // the server answers at most PAGE records at a time: page on the chain's sequence number
        const records: { seq: number }[] = []
        for (;;) {
          const afterSeq = records.at(-1)?.seq
          const page = (
            await api().call('listAudit', {
              query: { since, limit: PAGE, ...(afterSeq === undefined ? {} : { afterSeq }) },
            })
          ).body
          records.push(...page)
          if (page.length < PAGE) break
        }
        // JSON lines is the export format; --json keeps its promise of one document
        out.emit(records, () => records.map((record) => JSON.stringify(record)))
      }),
    )
}
