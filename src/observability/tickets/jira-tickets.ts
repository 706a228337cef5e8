import { TicketDeliveryError, requiredMember } from './ticket-http.js'
import { commentText, incidentLines, rcaText, ticketTitle } from './ticket-system.js'
import type { TicketContext, TicketSettings, TicketSystem } from './ticket-system.js'

type Jira = Extract<TicketSettings, { type: 'jira' }>

interface Transition {
  id?: string
  name?: string
  to?: { statusCategory?: { key?: string } }
}

/**
 * Jira Cloud REST API v3: `POST /rest/api/3/issue` opens (description in the Atlassian Document
 * Format v3 requires), `POST /rest/api/3/issue/{key}/comment` comments, and the close takes a
 * transition into the "done" status category with the RCA as its comment, in one request
 * (`POST /rest/api/3/issue/{key}/transitions` with `update.comment`). Basic auth with the
 * account's e-mail and an API token, as Atlassian documents for scripts.
 */
export const jiraTickets: TicketSystem<Jira> = {
  headers: (settings, token): Record<string, string> =>
    token === undefined
      ? {}
      : { authorization: `Basic ${Buffer.from(`${settings.user}:${token}`).toString('base64')}` },

  async open(incident, ctx) {
    const answer = await ctx.http.call('create issue', 'POST', apiUrl(ctx, '/issue'), {
      fields: {
        project: { key: ctx.settings.project },
        issuetype: { name: ctx.settings.issueType },
        summary: ticketTitle(incident),
        description: adf(incidentLines(incident).join('\n')),
        labels: ctx.settings.labels,
      },
    })
    const key = requiredMember(answer, 'key', 'create issue')
    return { id: key, url: `${ctx.url.replace(/\/+$/, '')}/browse/${key}` }
  },

  async comment(ticket, _incident, comment, ctx) {
    await ctx.http.call('comment', 'POST', apiUrl(ctx, `/issue/${encodeURIComponent(ticket.id)}/comment`), {
      body: adf(commentText(comment)),
    })
  },

  async resolve(ticket, incident, ctx) {
    const url = apiUrl(ctx, `/issue/${encodeURIComponent(ticket.id)}/transitions`)
    const answer = (await ctx.http.call('list transitions', 'GET', url)) as {
      transitions?: Transition[]
    } | null
    const transitions = answer?.transitions ?? []
    const wanted = ctx.settings.doneTransition
    const done = transitions.find((t) =>
      wanted === undefined ? t.to?.statusCategory?.key === 'done' : t.name === wanted,
    )
    if (done?.id === undefined) {
      const offered = transitions.map((t) => t.name ?? t.id ?? '?').join(', ') || 'none'
      throw new TicketDeliveryError(
        `close: issue ${ticket.id} offers no ${wanted === undefined ? 'transition into a done status' : `transition "${wanted}"`} (offered: ${offered}); set doneTransition`,
        true,
      )
    }
    await ctx.http.call('transition to done', 'POST', url, {
      transition: { id: done.id },
      update: { comment: [{ add: { body: adf(rcaText(incident)) } }] },
    })
  },
}

function apiUrl(ctx: TicketContext<Jira>, path: string): string {
  return `${ctx.url.replace(/\/+$/, '')}/rest/api/3${path}`
}

/**
 * Plain text as an Atlassian Document Format document: a paragraph per block of lines separated
 * by a blank line, the lines of a block joined by hard breaks (ADF text nodes may not be empty).
 */
export function adf(text: string): Record<string, unknown> {
  const blocks = text.split(/\n\s*\n/).filter((b) => b.trim() !== '')
  return {
    version: 1,
    type: 'doc',
    content: blocks.map((block) => ({
      type: 'paragraph',
      content: block
        .split('\n')
        .flatMap((line, i) => [
          ...(i === 0 ? [] : [{ type: 'hardBreak' }]),
          ...(line === '' ? [] : [{ type: 'text', text: line }]),
        ]),
    })),
  }
}
