import type { Kysely } from 'kysely'
import type { AuditEvent } from '../audit/audit-log.js'
import { approvalsOfStory, decisionsOf } from '../store/approvals-repository.js'
import type { Database } from '../store/tables.js'
import type { LogRecord } from './log-buffer.js'
import type { TimelineEvent } from './timeline-types.js'
import type { StoryRun } from './timeline-runs.js'

/**
 * Approvals of the story, each request and each decision an event: by correlation id, plus the
 * release of a halt that one of the story's runs engaged (the approval names that halt's reason,
 * which names the run).
 */
export async function approvalEvents(
  db: Kysely<Database>,
  correlationId: string,
  runs: readonly StoryRun[],
): Promise<{ events: TimelineEvent[]; correlationIds: string[] }> {
  const ids = [correlationId, ...runs.map((r) => r.row.correlation_id)]
  const halted = runs.filter((r) => r.row.state === 'halted').map((r) => r.row.id)
  const rows = await approvalsOfStory(db, ids, halted)
  if (rows.length === 0) return { events: [], correlationIds: [] }
  const decisions = await decisionsOf(
    db,
    rows.map((r) => r.id),
  )
  const events: TimelineEvent[] = []
  for (const a of rows) {
    const base = {
      source: 'approval' as const,
      correlationId: a.correlation_id,
      ...(a.run_id === null ? {} : { runId: a.run_id }),
    }
    const roles = a.required_roles
    events.push({
      ...base,
      at: a.created_at,
      type: 'approval.requested',
      actor: a.requested_by,
      message: `${a.requested_by} asked for ${a.action} of ${a.subject} (needs ${roles.join(' + ')}): ${a.reason}`,
      data: { approvalId: a.id, action: a.action, requiredRoles: roles },
    })
    for (const d of decisions.filter((x) => x.approval_id === a.id)) {
      const why = d.reason === null ? '' : `: ${d.reason}`
      events.push({
        ...base,
        at: d.at,
        type: `approval.${d.decision}`,
        actor: d.by_user,
        message: `${d.by_user} (${d.role}) ${d.decision} ${a.action} of ${a.subject}${why}`,
        data: { approvalId: a.id, role: d.role },
      })
    }
    if (a.state === 'expired') {
      events.push({
        ...base,
        at: a.expires_at,
        type: 'approval.expired',
        message: `${a.action} of ${a.subject} expired without enough approvals`,
        data: { approvalId: a.id },
      })
    }
  }
  return { events, correlationIds: rows.map((r) => r.correlation_id) }
}

/** An alert is one row whose history is its creation and its latest change. */
export async function alertEvents(db: Kysely<Database>, ids: readonly string[]): Promise<TimelineEvent[]> {
  const rows = await db
    .selectFrom('alerts')
    .selectAll()
    .where('correlation_id', 'in', [...ids])
    .orderBy('created_at')
    .execute()
  return rows.flatMap((a) => {
    const base = {
      source: 'alert' as const,
      ...(a.run_id === null ? {} : { runId: a.run_id }),
      ...(a.correlation_id === null ? {} : { correlationId: a.correlation_id }),
    }
    const data = {
      alertId: a.id,
      alertType: a.type,
      severity: a.severity,
      count: Number(a.count),
      state: a.state,
    }
    const raised: TimelineEvent = {
      ...base,
      at: a.created_at,
      type: 'alert.raised',
      message: `${a.severity} ${a.type}: ${a.message}`,
      data,
    }
    if (a.state === 'open') return [raised]
    return [
      raised,
      { ...base, at: a.updated_at, type: `alert.${a.state}`, message: `${a.type} alert ${a.state}`, data },
    ]
  })
}

export async function incidentEvents(
  db: Kysely<Database>,
  ids: readonly string[],
): Promise<{ events: TimelineEvent[]; incidents: { id: string; state: string; title: string }[] }> {
  const rows = await db
    .selectFrom('incidents')
    .selectAll()
    .where('correlation_id', 'in', [...ids])
    .orderBy('opened_at')
    .execute()
  const events = rows.flatMap((i) => {
    const base = {
      source: 'incident' as const,
      ...(i.run_id === null ? {} : { runId: i.run_id }),
      ...(i.correlation_id === null ? {} : { correlationId: i.correlation_id }),
    }
    const opened: TimelineEvent = {
      ...base,
      at: i.opened_at,
      type: 'incident.opened',
      message: `${i.severity} incident ${i.id} opened: ${i.title} (escalated to ${i.escalated_to})`,
      data: { incidentId: i.id, severity: i.severity },
    }
    if (i.closed_at === null) return [opened]
    return [
      opened,
      {
        ...base,
        at: i.closed_at,
        type: 'incident.closed',
        message: `incident ${i.id} closed with its RCA`,
        ...(i.closed_by === null ? {} : { actor: i.closed_by }),
        data: { incidentId: i.id },
      },
    ]
  })
  return { events, incidents: rows.map((i) => ({ id: i.id, state: i.state, title: i.title })) }
}

export function auditEvents(records: readonly AuditEvent[]): TimelineEvent[] {
  return records.map((r) => ({
    at: r.at,
    source: 'audit' as const,
    type: r.action,
    actor: r.actor,
    message: `${r.actor}: ${r.action}${r.target === null ? '' : ` ${r.target}`}${r.reason === null ? '' : ` (${r.reason})`}`,
    ...(typeof r.details?.runId === 'string' ? { runId: r.details.runId } : {}),
    ...(r.correlationId === null ? {} : { correlationId: r.correlationId }),
    // audit details are checked secret-free when they are written (secret-guard.ts)
    ...(r.details === null ? {} : { data: r.details }),
  }))
}

/**
 * Log lines reduced to a few known fields: a line may carry anything a component logged, and only
 * redaction stands between those fields and a secret, so the story keeps no field it does not know.
 */
export function logEvents(records: readonly LogRecord[]): TimelineEvent[] {
  return records.map(({ fields }) => {
    const text = (name: string) => (typeof fields[name] === 'string' ? fields[name] : undefined)
    const err = fields.err as { type?: unknown; message?: unknown } | undefined
    const data = Object.fromEntries(
      Object.entries({
        level: text('level'),
        key: text('key'),
        component: text('component'),
        failureClass: text('failureClass'),
        error: typeof err?.message === 'string' ? err.message : undefined,
      }).filter(([, v]) => v !== undefined),
    )
    const runId = text('runId')
    const phase = text('phase')
    const actor = text('actor')
    return {
      at: text('time') ?? new Date(Number(fields.time)).toISOString(),
      source: 'log' as const,
      type: `log.${text('level') ?? 'line'}`,
      message: text('msg') ?? '',
      ...(actor === undefined ? {} : { actor }),
      ...(runId === undefined ? {} : { runId }),
      ...(phase === undefined ? {} : { phase }),
      ...(text('correlationId') === undefined ? {} : { correlationId: text('correlationId') }),
      data,
    }
  })
}
