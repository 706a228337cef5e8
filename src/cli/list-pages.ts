import type { Command } from 'commander'
import type { ApiResponse } from '../client/http.js'
import type { OperationOutput } from '../client/keyrotor-client.js'
import { OPERATION_ROUTES } from '../client/operation-routes.js'
import { table } from './output.js'
import { integerOption, leaf, str, type Act, type Session } from './session.js'

/** The largest page the server answers (the API's documented maximum). */
const MAX_PAGE = 1000

/**
 * `--limit`, `--cursor` and `--all` (and `--since`/`--until` where the list has a time): the
 * paging every list command shares, passed through to the route's query parameters.
 */
export function withPaging(command: Command, options: { time?: boolean } = {}): Command {
  command
    .addOption(
      integerOption(
        '--limit <n>',
        `at most this many (1 to ${MAX_PAGE}); when more follow, the next --cursor is printed on stderr`,
        1,
        MAX_PAGE,
      ),
    )
    .option('--cursor <cursor>', 'continue after the page that printed this cursor')
    .option('--all', `follow every page to the end (pages of --limit, default ${MAX_PAGE})`)
  if (options.time !== false) {
    command
      .option('--since <time>', 'only those at or after this time (ISO 8601)')
      .option('--until <time>', 'only those before this time (ISO 8601)')
  }
  return command
}

/** The operations that answer one page of a list (keyrotor/client's operation ids). */
export type ListOperation =
  'listKeys' | 'listRuns' | 'listAlerts' | 'listIncidents' | 'listApprovals' | 'listTokens'

/**
 * The list `operation` answers with `filters`: one page (its next cursor told on stderr, so stdout
 * stays one document), or with --all every page after another until the server says there is no more.
 */
export async function listPages<Id extends ListOperation>(
  session: Pick<Session, 'api' | 'opts' | 'out'>,
  operation: Id,
  filters: Record<string, string | undefined> = {},
): Promise<OperationOutput<Id>> {
  const { opts } = session
  const limit = typeof opts.limit === 'number' ? opts.limit : undefined
  const query = { ...filters, since: str(opts, 'since'), until: str(opts, 'until') }
  let cursor = str(opts, 'cursor')
  if (opts.all !== true) {
    const page = await readPage(session, operation, { ...query, limit: text(limit), cursor })
    if (page.nextCursor !== undefined) session.out.note(`more follow: --cursor ${page.nextCursor}`)
    return page.body
  }
  const items: OperationOutput<Id>[number][] = []
  for (;;) {
    const page = await readPage(session, operation, { ...query, limit: String(limit ?? MAX_PAGE), cursor })
    items.push(...page.body)
    if (page.nextCursor === undefined) return items as OperationOutput<Id>
    cursor = page.nextCursor
  }
}

/** A list operation has no path parameters: its path is the operation's, the filters its query. */
function readPage<Id extends ListOperation>(
  session: Pick<Session, 'api'>,
  operation: Id,
  query: Record<string, string | undefined>,
): Promise<ApiResponse<OperationOutput<Id>>> {
  return session.api().getResponse<OperationOutput<Id>>(OPERATION_ROUTES[operation].path, query)
}

function text(limit: number | undefined): string | undefined {
  return limit === undefined ? undefined : String(limit)
}

/** A filter of a list command: `--<name> <name>`, sent as the query parameter of the same name. */
export interface ListFilterFlag {
  name: string
  help: string
}

/**
 * `<group> list`: the paging flags and the list's filters, every page asked for, printed as JSON or
 * as a table with one row per item.
 */
export function listCommand<Id extends ListOperation>(
  parent: Command,
  act: Act,
  spec: {
    operation: Id
    description: string
    filters: readonly ListFilterFlag[]
    /** Printed instead of a table when nothing matches (`no alerts`). */
    empty: string
    columns: readonly string[]
    row(item: OperationOutput<Id>[number]): readonly unknown[]
  },
): Command {
  const command = withPaging(leaf(parent, 'list', spec.description))
  for (const { name, help } of spec.filters) command.option(`--${name} <${name}>`, help)
  return command.action(
    act(async (session) => {
      const filters = Object.fromEntries(spec.filters.map(({ name }) => [name, str(session.opts, name)]))
      const list = await listPages(session, spec.operation, filters)
      session.out.emit(list, () =>
        list.length === 0
          ? [spec.empty]
          : table(
              spec.columns,
              list.map((item) => spec.row(item)),
            ),
      )
    }),
  )
}
