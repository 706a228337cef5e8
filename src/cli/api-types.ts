import type { FailureClass } from '../errors.js'
import type { Phase } from '../domain/phases.js'
import type { RunKind, RunState, Trigger } from '../domain/runs.js'

/** The JSON shapes the CLI reads from the server's HTTP API (CONTRACT.md "HTTP API"). */

export interface RunView {
  id: string
  key: string
  kind: RunKind
  state: RunState
  phase: Phase | null
  fromVersion: number | null
  toVersion: number | null
  correlationId: string
  idempotencyKey: string | null
  trigger: Trigger
  requestedBy: string | null
  priority: number
  failure: { class: FailureClass; phase: Phase | null; message: string } | null
  duplicateCount: number
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  attempt?: number | null
  reason?: string | null
  validation?: { passed: boolean; checks: { name: string; passed: boolean; detail?: string }[] } | null
}

export interface RunEventView {
  id: number | string
  at: string
  type: string
  phase: string | null
  message: string
  data?: unknown
}

export interface RunEventsPage {
  events: RunEventView[]
  cursor: number
}

export interface DependentView {
  name: string
  critical: boolean
  lastProbeAt?: string | null
  accepts?: number[] | null
  active?: number | null
  lastError?: string | null
  lastNotice?: string | null
  lastNoticeAt?: string | null
}

export interface KeyView {
  id: string
  provider: string
  algorithm: string
  owner: string
  aliases: { name: string; version: number | null }[]
  versions: { version: number; state: string; compromised: boolean; providerRef: string; createdAt: string }[]
  dependents: DependentView[]
  policy: Record<string, unknown>
}

export interface HaltView {
  engaged: boolean
  reason: string | null
  by: string | null
  since: string | null
}

export interface AlertView {
  id: string
  type: string
  severity: string
  key: string | null
  runId: string | null
  correlationId: string | null
  message: string
  count: number
  state: string
  createdAt: string
  updatedAt: string
}

export interface ApprovalView {
  id: string
  action: string
  subject: string
  state: string
  requestedBy: string
  requiredRoles: string[]
  approvals: { by: string; role: string; at: string }[]
  expiresAt: string | null
}

export interface IncidentView {
  id: string
  state: string
  title: string
  correlationId: string | null
  runId: string | null
  key: string | null
  openedAt: string
  closedAt: string | null
  rca: string | null
}

/** A ticket a ticketing sink opened for an incident (GET /v1/incidents/{id}/tickets). */
export interface IncidentTicketView {
  sink: string
  type: string
  externalId: string
  url: string | null
  createdAt: string
}

export interface TimelineView {
  correlationId: string
  events: { at: string; source: string; type: string; message: string; [more: string]: unknown }[]
}
