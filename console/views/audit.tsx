import { useState } from 'preact/hooks'
import type { ChainReport } from '../../src/audit/verify-chain.js'
import { api } from '../api.js'
import { Action } from '../action.js'
import { when } from '../format.js'

/** Checks the audit hash chain, and exports the records as JSON Lines. */
export function AuditView() {
  const [report, setReport] = useState<ChainReport | null>(null)
  const [exported, setExported] = useState<{ url: string; count: number } | null>(null)
  return (
    <section>
      <h1>Audit</h1>
      <div class="actions">
        <Action
          label="Verify the chain"
          run={async () => setReport(await api<ChainReport>('GET', '/v1/audit/verify'))}
        />
        <Action
          label="Export"
          run={async () => {
            const records = await api<unknown[]>('GET', '/v1/audit')
            const blob = new Blob(
              records.map((r) => `${JSON.stringify(r)}\n`),
              { type: 'application/x-ndjson' },
            )
            setExported({ url: URL.createObjectURL(blob), count: records.length })
          }}
        />
      </div>
      {report !== null && (
        <p data-testid="audit-report" class={report.valid ? '' : 'problem'}>
          {report.valid ? 'The chain is intact' : 'The chain is broken'}: {report.checked} records checked
          {report.brokenAt !== undefined &&
            `; first bad record ${report.brokenAt.seq}: ${report.brokenAt.reason}`}
          {report.checkpoint !== undefined &&
            `; compared with the checkpoint at record ${report.checkpoint.seq} (${when(report.checkpoint.at)})`}
          .
        </p>
      )}
      {exported !== null && (
        <p>
          <a href={exported.url} download="keyrotor-audit.jsonl">
            Download {exported.count} records (JSON Lines)
          </a>
        </p>
      )}
    </section>
  )
}
