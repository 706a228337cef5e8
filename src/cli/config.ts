import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { loadConfigFile } from '../config/load-config.js'
import { KeyrotorError, isKeyrotorError } from '../errors.js'
import { EXIT } from './exit-codes.js'
import { seg } from './http-client.js'
import { cell, table } from './output.js'
import { leaf, str } from './session.js'
import type { Act, Session } from './session.js'

/** A config change as the server shows it (change management: propose → approve → apply). */
export interface ConfigProposalView {
  id: string
  state: string
  summary: string
  rollbackPlan?: string
  proposedBy?: string
  createdAt?: string
  appliedAt?: string | null
}

function proposalLine(p: ConfigProposalView): string {
  return `config proposal ${p.id} ${p.state}: ${p.summary} (by ${cell(p.proposedBy)}, ${cell(p.createdAt)})`
}

/** Validates locally, without a server: the same parser the server uses. */
async function validate({ out }: Session, file: string): Promise<number> {
  try {
    const config = await loadConfigFile(file)
    out.emit(
      { file, valid: true, keys: config.keys.length },
      () => `${file}: valid (${config.keys.length} ${config.keys.length === 1 ? 'key' : 'keys'})`,
    )
    return EXIT.ok
  } catch (error) {
    if (!isKeyrotorError(error, 'INVALID_CONFIG')) throw error
    const problems = Array.isArray(error.details?.problems)
      ? (error.details.problems as string[])
      : [error.message]
    out.note(`keyrotor: ${file}: invalid configuration, ${problems.length} problem(s) (code INVALID_CONFIG)`)
    out.emit(
      {
        file,
        valid: false,
        problems,
        error: { code: error.code, message: error.message, correlationId: null },
      },
      () => problems,
    )
    return EXIT.badInput
  }
}

export function registerConfig(program: Command, act: Act): void {
  const config = program
    .command('config')
    .description('validate and change the configuration, with approvals')

  leaf(config, 'validate <file>', 'validate a keyrotor.yaml locally (no server needed)').action(
    act(async (session, [file]) => validate(session, file ?? '')),
  )

  leaf(config, 'propose <file>', 'propose a configuration change for approval')
    .requiredOption('--summary <text>', 'what changes and why')
    .requiredOption('--rollback-plan <text>', 'how to go back if it goes wrong')
    .action(
      act(async ({ api, out, opts }, [file]) => {
        const path = file ?? ''
        // refuse locally what the server would refuse: no round trip for a typo
        await loadConfigFile(path)
        const yaml = await readFile(path, 'utf8').catch((error: unknown) => {
          throw new KeyrotorError('BAD_REQUEST', `cannot read ${path}: ${(error as Error).message}`)
        })
        const body = { yaml, summary: str(opts, 'summary'), rollbackPlan: str(opts, 'rollbackPlan') }
        const { body: proposal } = await api().post<ConfigProposalView>('/v1/config/proposals', body)
        out.emit(proposal, () => proposalLine(proposal))
      }),
    )

  for (const [action, description] of [
    ['approve', 'approve a proposed change (never your own)'],
    ['apply', 'apply an approved change'],
  ] as const) {
    leaf(config, `${action} <id>`, description).action(
      act(async ({ api, out }, [id]) => {
        const { body } = await api().post<ConfigProposalView>(
          `/v1/config/proposals/${seg(id ?? '')}/${action}`,
        )
        out.emit(body, () => proposalLine(body))
      }),
    )
  }

  leaf(config, 'history', 'list configuration changes').action(
    act(async ({ api, out }) => {
      const list = await api().get<ConfigProposalView[]>('/v1/config/proposals')
      out.emit(list, () =>
        list.length === 0
          ? ['no configuration changes']
          : table(
              ['ID', 'STATE', 'BY', 'CREATED', 'APPLIED', 'SUMMARY'],
              list.map((p) => [p.id, p.state, p.proposedBy, p.createdAt, p.appliedAt, p.summary]),
            ),
      )
    }),
  )
}
