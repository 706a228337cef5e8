import { formatProblems, type ConfigProblem } from '../../config/config-problems.js'
import type { KeyrotorConfig } from '../../config/schema.js'
import { KeyrotorError } from '../../errors.js'
import type { Incident } from '../incidents.js'
import {
  loadTicketTemplate,
  renderTicketBody,
  templateContext,
  type TemplateEvent,
} from './template-tickets.js'
import { TemplateError } from './ticket-template.js'

/** An incident with every member filled in, to render each template once per event. */
const SAMPLE: Incident = {
  id: 'inc_sample',
  state: 'open',
  severity: 'critical',
  title: 'Partial execution of rotate on payments-dek',
  summary: 'stopped in promote: "quoted" text, a back\\slash and a\nnewline',
  correlationId: 'corr-sample',
  runId: 'run_sample',
  key: 'payments-dek',
  escalatedTo: ['security-lead', 'platform-lead'],
  openedAt: '2026-01-01T00:00:00.000Z',
  closedAt: null,
  closedBy: null,
  rca: null,
}
const CLOSED: Incident = {
  ...SAMPLE,
  state: 'closed',
  closedAt: '2026-01-01T01:00:00.000Z',
  closedBy: 'sam',
  rca: '# RCA\n\nA dependent ignored the promotion.',
}
const EVENTS: readonly TemplateEvent[] = ['opened', 'commented', 'closed']

/**
 * The templates of a config's `template` sinks, each read, parsed and rendered for every event
 * with a sample incident (quotes, a backslash and a newline in it): a template that cannot be
 * read, does not parse, names an unknown variable or does not render JSON is a problem at its
 * `templateFile`, naming the file, line and column.
 */
export async function ticketTemplateProblems(config: KeyrotorConfig): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = []
  for (const [i, sink] of config.notifications.incidents.entries()) {
    if (sink.type !== 'template') continue
    const path = ['notifications', 'incidents', i, 'templateFile']
    try {
      const template = await loadTicketTemplate(sink.templateFile)
      for (const event of EVENTS) {
        const incident = event === 'closed' ? CLOSED : SAMPLE
        const comment =
          event === 'commented' ? { at: SAMPLE.openedAt, text: 'Alert halt_engaged acknowledged' } : null
        const ticket = event === 'opened' ? null : { id: 'T-1', url: null }
        renderTicketBody(template, templateContext(event, incident, comment, ticket), sink.templateFile)
      }
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error
      problems.push({ path, message: error.message })
    }
  }
  return problems
}

/** Throws INVALID_CONFIG, as the config parser does, when a ticket template has a problem. */
export async function checkTicketTemplates(config: KeyrotorConfig, source: string): Promise<void> {
  const problems = await ticketTemplateProblems(config)
  if (problems.length === 0) return
  const lines = formatProblems(source, problems).split('\n')
  throw new KeyrotorError('INVALID_CONFIG', lines.join('\n'), { details: { problems: lines } })
}
