import { readFile } from 'node:fs/promises'
import type { Incident } from '../incidents.js'
import { TicketDeliveryError, memberAt } from './ticket-http.js'
import { compileTemplate, TemplateError, type Template } from './ticket-template.js'
import type {
  TicketComment,
  TicketContext,
  TicketRef,
  TicketSettings,
  TicketSystem,
} from './ticket-system.js'

type Templated = Extract<TicketSettings, { type: 'template' }>

export type TemplateEvent = 'opened' | 'commented' | 'closed'

/** What a template can use: the event, the incident, the comment and the ticket (after opening). */
export function templateContext(
  event: TemplateEvent,
  incident: Incident,
  comment: TicketComment | null,
  ticket: TicketRef | null,
): Record<string, unknown> {
  return {
    event,
    opened: event === 'opened',
    commented: event === 'commented',
    closed: event === 'closed',
    incident,
    comment,
    ticket,
  }
}

/**
 * Renders a template for one event and checks that the result is JSON, so a template mistake is
 * named here rather than as a 400 from the ticketing API.
 */
export function renderTicketBody(
  template: Template,
  context: Record<string, unknown>,
  source: string,
): string {
  const body = template.render(context)
  try {
    JSON.parse(body)
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error)
    throw new TemplateError(`${source}: renders invalid JSON for event ${String(context.event)}: ${why}`)
  }
  return body
}

/** Reads and compiles a template file; any problem is a TemplateError naming the file. */
export async function loadTicketTemplate(path: string): Promise<Template> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable'
    throw new TemplateError(
      `${path}: cannot read the template (${code === 'ENOENT' ? 'no such file' : code})`,
    )
  }
  return compileTemplate(text, path)
}

/**
 * The generic templated webhook for any ticketing API: the template file renders the JSON body
 * of every event; the opening goes to `url`, comments and the close to `updateUrl` (with
 * `{{ticket.id}}` filled in) by `updateMethod`. A template that does not render fails the
 * delivery at once: sending it again would render the same.
 */
export const templateTickets: TicketSystem<Templated> = {
  headers: (settings, secret): Record<string, string> => {
    if (secret === undefined) return {}
    if (settings.auth === 'basic') {
      return { authorization: `Basic ${Buffer.from(`${settings.user ?? ''}:${secret}`).toString('base64')}` }
    }
    return { authorization: `Bearer ${secret}` }
  },

  async open(incident, ctx) {
    const body = await render(ctx, templateContext('opened', incident, null, null))
    const answer = await ctx.http.call('open ticket', 'POST', ctx.url, body)
    const idField = ctx.settings.idField
    if (idField === undefined) return { id: incident.id, url: null }
    const id = memberAt(answer, idField)
    if (id === undefined || id === '') {
      throw new TicketDeliveryError(`open ticket: the answer has no ${idField} (idField)`, true)
    }
    return { id, url: null }
  },

  async comment(ticket, incident, comment, ctx) {
    const body = await render(ctx, templateContext('commented', incident, comment, ticket))
    await ctx.http.call('comment', ctx.settings.updateMethod, updateUrl(ctx, ticket), body)
  },

  async resolve(ticket, incident, ctx) {
    const body = await render(ctx, templateContext('closed', incident, null, ticket))
    await ctx.http.call('close ticket', ctx.settings.updateMethod, updateUrl(ctx, ticket), body)
  },
}

async function render(ctx: TicketContext<Templated>, context: Record<string, unknown>): Promise<string> {
  const file = ctx.settings.templateFile
  try {
    return renderTicketBody(await loadTicketTemplate(file), context, file)
  } catch (error) {
    if (error instanceof TemplateError) throw new TicketDeliveryError(`template: ${error.message}`, true)
    throw error
  }
}

function updateUrl(ctx: TicketContext<Templated>, ticket: TicketRef): string {
  return (ctx.settings.updateUrl ?? ctx.url).replaceAll('{{ticket.id}}', encodeURIComponent(ticket.id))
}
