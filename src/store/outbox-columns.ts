import { z } from 'zod'
import { ALERT_SEVERITIES, ALERT_STATES, ALERT_TYPES } from '../domain/alerts.js'
import { INCIDENT_SEVERITIES, INCIDENT_STATES } from '../domain/incidents.js'
import { decodeJsonColumn, encodeJsonColumn } from './json-column.js'

// `notification_outbox.payload`: the alert or incident as it was at the change, what each sink is
// told. The shapes are observability's Alert, Incident and Notification; delivery-outbox.ts
// assigns one to the other both ways, so the compiler keeps them the same.

const alertSchema = z.object({
  id: z.string(),
  type: z.enum(ALERT_TYPES),
  severity: z.enum(ALERT_SEVERITIES),
  key: z.string().nullable(),
  runId: z.string().nullable(),
  correlationId: z.string().nullable(),
  message: z.string(),
  count: z.number(),
  state: z.enum(ALERT_STATES),
  createdAt: z.string(),
  updatedAt: z.string(),
})

const incidentSchema = z.object({
  id: z.string(),
  state: z.enum(INCIDENT_STATES),
  severity: z.enum(INCIDENT_SEVERITIES),
  title: z.string(),
  summary: z.string(),
  correlationId: z.string().nullable(),
  runId: z.string().nullable(),
  key: z.string().nullable(),
  escalatedTo: z.array(z.string()),
  openedAt: z.string(),
  closedAt: z.string().nullable(),
  closedBy: z.string().nullable(),
  rca: z.string().nullable(),
})

const payloadSchema = z.discriminatedUnion('channel', [
  z.object({
    channel: z.literal('alerts'),
    event: z.enum(['raised', 'repeated', 'acknowledged', 'resolved']),
    alert: alertSchema,
  }),
  z.object({
    channel: z.literal('incidents'),
    event: z.enum(['opened', 'commented', 'closed']),
    incident: incidentSchema,
    comment: z.object({ at: z.string(), text: z.string() }).optional(),
  }),
])

export type OutboxPayload = z.output<typeof payloadSchema>

export function decodeOutboxPayload(row: { id: string; payload: string }): OutboxPayload {
  return decodeJsonColumn(payloadSchema, row.payload, {
    table: 'notification_outbox',
    column: 'payload',
    row: row.id,
  })
}

export function encodeOutboxPayload(payload: OutboxPayload): string {
  return encodeJsonColumn(payloadSchema, payload)
}
