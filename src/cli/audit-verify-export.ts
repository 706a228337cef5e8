import { readFileSync } from 'node:fs'
import { deriveAuditKey } from '../audit/chain.js'
import { verifyExport } from '../audit/verify-export.js'
import { KeyrotorError } from '../errors.js'
import { loadMasterKey } from '../providers/local/master-key.js'
import { EXIT } from './exit-codes.js'
import type { Output } from './output.js'

/**
 * `audit verify --export FILE`: checks a copy of the chain (from `audit export` or an audit
 * stream) with no server. The record hashes are HMACs under the chain key, derived from the
 * master key (KEYROTOR_MASTER_KEY or `--data-dir`); without one only the links are checked,
 * and the answer says so.
 */
export function verifyExportFile(
  file: string,
  dataDir: string | undefined,
  masterKey: string | undefined,
  out: Output,
): number {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error)
    throw new KeyrotorError('BAD_REQUEST', `--export: cannot read ${file}: ${reason}`)
  }
  const key =
    masterKey === undefined && dataDir === undefined
      ? undefined
      : deriveAuditKey(loadMasterKey({ dataDir: dataDir ?? '.', fromEnv: masterKey }))
  const report = verifyExport(text, key)
  const range = report.firstSeq === null ? 'no records' : `records #${report.firstSeq}–#${report.lastSeq}`
  out.emit({ file, ...report }, () => [
    report.valid
      ? `${file}: chain intact, ${report.checked} ${range}${report.duplicates > 0 ? ` (${report.duplicates} repeats skipped)` : ''}`
      : `${file}: chain BROKEN at line ${report.brokenAt?.line} (record #${report.brokenAt?.seq ?? '?'}): ${report.brokenAt?.reason}`,
    ...(report.hashesChecked
      ? []
      : ['record hashes NOT checked: give --data-dir or KEYROTOR_MASTER_KEY for the chain key']),
  ])
  return report.valid ? EXIT.ok : EXIT.runFailed
}
