import { requiredMember, memberAt } from './ticket-http.js'
import { commentText, incidentLines, rcaText, ticketTitle } from './ticket-system.js'
import type { TicketContext, TicketSettings, TicketSystem } from './ticket-system.js'

type GitHub = Extract<TicketSettings, { type: 'github' }>

/**
 * GitHub Issues (REST API 2022-11-28): `POST /repos/{owner}/{repo}/issues` opens, `POST
 * /repos/{owner}/{repo}/issues/{number}/comments` comments, and the close is `PATCH
 * /repos/{owner}/{repo}/issues/{number}` with `state: closed` followed by the RCA as the final
 * comment. Closing first keeps a retry harmless: closing a closed issue changes nothing.
 */
export const githubTickets: TicketSystem<GitHub> = {
  headers: (_settings, token) => ({
    accept: 'application/vnd.github+json',
    'x-github-api-version': '2022-11-28',
    // GitHub refuses requests without a User-Agent
    'user-agent': 'keyrotor',
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
  }),

  async open(incident, ctx) {
    const answer = await ctx.http.call('open issue', 'POST', repoUrl(ctx, '/issues'), {
      title: ticketTitle(incident),
      body: incidentLines(incident).join('\n'),
      labels: ctx.settings.labels,
    })
    return { id: requiredMember(answer, 'number', 'open issue'), url: memberAt(answer, 'html_url') ?? null }
  },

  async comment(ticket, _incident, comment, ctx) {
    await ctx.http.call('comment', 'POST', repoUrl(ctx, `/issues/${ticket.id}/comments`), {
      body: commentText(comment),
    })
  },

  async resolve(ticket, incident, ctx) {
    await ctx.http.call('close issue', 'PATCH', repoUrl(ctx, `/issues/${ticket.id}`), {
      state: 'closed',
      state_reason: 'completed',
    })
    await ctx.http.call('RCA comment', 'POST', repoUrl(ctx, `/issues/${ticket.id}/comments`), {
      body: rcaText(incident),
    })
  },
}

function repoUrl(ctx: TicketContext<GitHub>, path: string): string {
  const [owner, repo] = ctx.settings.repo.split('/')
  return `${ctx.url.replace(/\/+$/, '')}/repos/${encodeURIComponent(owner ?? '')}/${encodeURIComponent(repo ?? '')}${path}`
}
