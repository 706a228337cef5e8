import type { IncidentSeverity } from '../incidents.js'
import { memberAt, requiredMember } from './ticket-http.js'
import { commentText, incidentLines, rcaText, ticketTitle } from './ticket-system.js'
import type { TicketContext, TicketSettings, TicketSystem } from './ticket-system.js'

type ServiceNow = Extract<TicketSettings, { type: 'servicenow' }>

/** ServiceNow's 1 (high) … 3 (low) for impact and urgency; priority follows from both. */
const LEVEL: Record<IncidentSeverity, string> = { critical: '1', high: '1', medium: '2', low: '3' }

/**
 * ServiceNow's Table API on the incident table: `POST /api/now/table/incident` opens (keyrotor's
 * incident id as `correlation_id`, so the ticket can be found from either side), `PATCH
 * /api/now/table/incident/{sys_id}` with `work_notes` comments, and the close is a PATCH of
 * `state` (6, Resolved, by default), `close_code` and `close_notes` (the RCA). Basic auth. A
 * retried opening first looks the incident up by `correlation_id`: an opening whose answer was
 * lost does not open a second one.
 */
export const servicenowTickets: TicketSystem<ServiceNow> = {
  headers: (settings, password): Record<string, string> =>
    password === undefined
      ? {}
      : { authorization: `Basic ${Buffer.from(`${settings.user}:${password}`).toString('base64')}` },

  async open(incident, ctx) {
    const answer = await ctx.http.call('create incident', 'POST', tableUrl(ctx, ''), {
      short_description: ticketTitle(incident).slice(0, 160),
      description: incidentLines(incident).join('\n'),
      impact: LEVEL[incident.severity],
      urgency: LEVEL[incident.severity],
      correlation_id: incident.id,
      correlation_display: 'keyrotor',
      ...(ctx.settings.assignmentGroup === undefined
        ? {}
        : { assignment_group: ctx.settings.assignmentGroup }),
    })
    return ticketOf(ctx, requiredMember(answer, 'result.sys_id', 'create incident'))
  },

  async find(incident, ctx) {
    const query = new URLSearchParams({
      sysparm_query: `correlation_id=${incident.id}`,
      sysparm_fields: 'sys_id,number',
      sysparm_limit: '1',
    })
    const answer = await ctx.http.call('find incident', 'GET', `${tableUrl(ctx, '')}?${query.toString()}`)
    const sysId = memberAt(answer, 'result.0.sys_id')
    return sysId === undefined ? undefined : ticketOf(ctx, sysId)
  },

  async comment(ticket, _incident, comment, ctx) {
    await ctx.http.call('work note', 'PATCH', tableUrl(ctx, `/${encodeURIComponent(ticket.id)}`), {
      work_notes: commentText(comment),
    })
  },

  async resolve(ticket, incident, ctx) {
    await ctx.http.call('resolve incident', 'PATCH', tableUrl(ctx, `/${encodeURIComponent(ticket.id)}`), {
      state: ctx.settings.closeState,
      close_code: ctx.settings.closeCode,
      close_notes: rcaText(incident),
    })
  },
}

function ticketOf(ctx: TicketContext<ServiceNow>, sysId: string) {
  return { id: sysId, url: `${base(ctx)}/nav_to.do?uri=incident.do%3Fsys_id%3D${sysId}` }
}

function base(ctx: TicketContext<ServiceNow>): string {
  return ctx.url.replace(/\/+$/, '')
}

function tableUrl(ctx: TicketContext<ServiceNow>, path: string): string {
  return `${base(ctx)}/api/now/table/incident${path}`
}
