import type { Command } from 'commander'
import { KeyrotorError } from '../errors.js'
import { EXIT } from './exit-codes.js'
import { leaf } from './session.js'
import type { Act } from './session.js'
import type { KeyVerificationView } from '../client/views.js'

/** What `verify` answers, as the server declares it (keyrotor/client). */
export type KeyVerifyReport = Pick<KeyVerificationView, 'key' | 'passed' | 'checks'>

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
          const { body } = await api().call('verifyAll')
          out.emit(body, () => [
            ...body.keys.flatMap(renderReport),
            `all keys: ${body.passed ? 'consistent' : 'INCONSISTENT'}`,
          ])
          return body.passed ? EXIT.ok : EXIT.runFailed
        }
        const { body } = await api().call('verifyKey', { params: { key: key ?? '' } })
        out.emit(body, () => renderReport(body))
        return body.passed ? EXIT.ok : EXIT.runFailed
      }),
    )
}
