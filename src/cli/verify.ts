import type { Command } from 'commander'
import { KeyrotorError } from '../errors.js'
import { EXIT } from './exit-codes.js'
import { seg } from './http-client.js'
import { leaf } from './session.js'
import type { Act } from './session.js'

export interface VerifyCheck {
  name: string
  passed: boolean
  detail?: string
}
export interface KeyVerifyReport {
  key: string
  passed: boolean
  checks: VerifyCheck[]
}
export interface VerifyAllReport {
  passed: boolean
  keys: KeyVerifyReport[]
}

export function renderReport(report: KeyVerifyReport): string[] {
  return [
    `${report.key}: ${report.passed ? 'consistent' : 'INCONSISTENT'}`,
    ...report.checks.map(
      (c) => `  ${c.passed ? 'ok  ' : 'FAIL'} ${c.name}${c.detail ? `: ${c.detail}` : ''}`,
    ),
  ]
}

export function registerVerify(program: Command, act: Act): void {
  leaf(program, 'verify [key]', 'consistency check of store against provider and dependents')
    .option('--all', 'check every key (required before a halt release)')
    .action(
      act(async ({ api, out, opts }, [key]) => {
        const all = opts.all === true
        if (all === (key !== undefined)) throw new KeyrotorError('BAD_REQUEST', 'give either a KEY or --all')
        // a verify is recorded (a retry and a halt release need one that passed), hence POST
        if (all) {
          const { body } = await api().post<VerifyAllReport>('/v1/verify')
          out.emit(body, () => [
            ...body.keys.flatMap(renderReport),
            `all keys: ${body.passed ? 'consistent' : 'INCONSISTENT'}`,
          ])
          return body.passed ? EXIT.ok : EXIT.runFailed
        }
        const { body } = await api().post<KeyVerifyReport>(`/v1/keys/${seg(key ?? '')}/verify`)
        out.emit(body, () => renderReport(body))
        return body.passed ? EXIT.ok : EXIT.runFailed
      }),
    )
}
