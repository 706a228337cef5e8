import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { loadConfigFile } from '../config/load-config.js'
import { checkTicketTemplates } from '../observability/tickets/template-check.js'
import { checkProviders, isProviderAvailable } from '../providers/registry.js'
import { KeyrotorError, isKeyrotorError } from '../errors.js'
import { EXIT } from './exit-codes.js'
import { seg } from './http-client.js'
import { table } from './output.js'
import { integerOption, leaf, str } from './session.js'
import type { Act, Session } from './session.js'

/** A config change as the server shows it (change management: propose → approve → apply). */
export interface ConfigProposalView {
  id: string
  state: string
  summary: string
  rollbackPlan: string
  hash: string
  baseVersion: number
  proposedBy: string
  createdAt: string
  approvalId: string
  approvedBy: string | null
  appliedBy: string | null
  appliedVersion: number | null
  diff?: string
}

/** One config version with who proposed, approved and applied it (version 1: the bootstrap). */
export interface ConfigVersionView {
  version: number
  hash: string
  active: boolean
  source: string
  summary: string | null
  rollbackPlan: string | null
  proposedBy: string | null
  approvedBy: string | null
  appliedBy: string
  appliedAt: string
}

function proposalLines(p: ConfigProposalView): string[] {
  const lines = [
    `config proposal ${p.id} ${p.state}${p.appliedVersion === null ? '' : ` as version ${p.appliedVersion}`}: ${p.summary}`,
    `  proposed by ${p.proposedBy} at ${p.createdAt} against version ${p.baseVersion}; approval ${p.approvalId}` +
      (p.approvedBy === null ? '' : `, approved by ${p.approvedBy}`) +
      (p.appliedBy === null ? '' : `, applied by ${p.appliedBy}`),
    `  rollback plan: ${p.rollbackPlan}`,
  ]
  if (p.diff !== undefined)
    lines.push(...(p.diff === '' ? ['  (no line changes)'] : p.diff.trimEnd().split('\n')))
  return lines
}

/** Validates locally, without a server: the same parser the server uses. */
async function validate({ ctx, out }: Session, file: string): Promise<number> {
  try {
    const config = await loadConfigFile(file, { isProviderAvailable })
    // a ticket template that does not parse or render is refused here, not at the first incident
    await checkTicketTemplates(config, file)
    // each provider instance must answer (module loads, token found, KMS reachable, hook runs)
    await checkProviders(config.providers, ctx.providerEnv ?? {}, config.keys)
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

  leaf(config, 'propose [file]', 'propose a configuration change for approval (shows its diff)')
    .requiredOption('--summary <text>', 'what changes and why (the reason, required)')
    .requiredOption('--rollback-plan <text>', 'how to go back if it goes wrong')
    .addOption(integerOption('--from-version <n>', 'propose an earlier version again (a rollback)', 1))
    .action(
      act(async ({ api, out, opts }, [file]) => {
        const fromVersion = opts.fromVersion as number | undefined
        if ((file === undefined) === (fromVersion === undefined)) {
          throw new KeyrotorError(
            'BAD_REQUEST',
            'config propose takes a FILE or --from-version N (one of them)',
          )
        }
        const summary = str(opts, 'summary')
        const rollbackPlan = str(opts, 'rollbackPlan')
        let body: Record<string, unknown> = { fromVersion, summary, rollbackPlan }
        if (file !== undefined) {
          // refuse locally what the server would refuse: no round trip for a typo
          await checkTicketTemplates(await loadConfigFile(file, { isProviderAvailable }), file)
          const yaml = await readFile(file, 'utf8').catch((error: unknown) => {
            throw new KeyrotorError('BAD_REQUEST', `cannot read ${file}: ${(error as Error).message}`)
          })
          body = { yaml, summary, rollbackPlan }
        }
        const { body: proposal } = await api().post<ConfigProposalView>('/v1/config/proposals', body)
        out.emit(proposal, () => proposalLines(proposal))
      }),
    )

  leaf(config, 'show <id>', 'show a proposed change with its diff').action(
    act(async ({ api, out }, [id]) => {
      const proposal = await api().get<ConfigProposalView>(`/v1/config/proposals/${seg(id ?? '')}`)
      out.emit(proposal, () => proposalLines(proposal))
    }),
  )

  for (const [action, description] of [
    ['approve', 'approve a proposed change (an admin or security person, never the proposer)'],
    ['apply', 'apply an approved change as the next config version'],
  ] as const) {
    leaf(config, `${action} <id>`, description).action(
      act(async ({ api, out }, [id]) => {
        const { body } = await api().post<ConfigProposalView>(
          `/v1/config/proposals/${seg(id ?? '')}/${action}`,
        )
        out.emit(body, () => proposalLines(body))
      }),
    )
  }

  leaf(config, 'history', 'list config versions (who proposed, approved, applied) and open proposals').action(
    act(async ({ api, out }) => {
      const versions = await api().get<ConfigVersionView[]>('/v1/config/versions')
      const all = await api().get<ConfigProposalView[]>('/v1/config/proposals')
      const open = all.filter((p) => p.state === 'pending' || p.state === 'approved')
      out.emit({ versions, proposals: open }, () => [
        ...table(
          [
            'VERSION',
            'ACTIVE',
            'PROPOSED BY',
            'APPROVED BY',
            'APPLIED BY',
            'APPLIED',
            'SUMMARY',
            'ROLLBACK PLAN',
          ],
          versions.map((v) => [
            v.version,
            v.active ? 'yes' : '',
            v.proposedBy ?? '-',
            v.approvedBy ?? '-',
            v.appliedBy,
            v.appliedAt,
            v.summary ?? `bootstrap from ${v.source}`,
            v.rollbackPlan ?? '-',
          ]),
        ),
        ...(open.length === 0
          ? []
          : [
              '',
              ...table(
                ['PROPOSAL', 'STATE', 'BY', 'CREATED', 'SUMMARY'],
                open.map((p) => [p.id, p.state, p.proposedBy, p.createdAt, p.summary]),
              ),
            ]),
      ])
    }),
  )
}
