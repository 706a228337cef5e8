// The shapes of a timeline, apart from the service that builds one, so its sources can use them
// without importing the service (which imports them).

export const TIMELINE_SOURCES = [
  'run',
  'phase',
  'notice',
  'probe',
  'alert',
  'approval',
  'incident',
  'audit',
  'log',
] as const
export type TimelineSource = (typeof TIMELINE_SOURCES)[number]

/** One step of the story. Never a secret: every source is secret-free, log lines are reduced. */
export interface TimelineEvent {
  at: string
  source: TimelineSource
  type: string
  message: string
  actor?: string
  runId?: string
  phase?: string
  /** Set on events of a linked story (a forward correction, a halt release) under another id. */
  correlationId?: string
  data?: Record<string, unknown>
}

export interface TimelineRun {
  id: string
  kind: string
  key: string
  state: string
  correlationId: string
  requestedBy: string
  failure: { class: string | null; phase: string | null; message: string | null } | null
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  /** True for a run of a linked story rather than of the correlation id asked for. */
  linked: boolean
}

/** CONTRACT.md's `{correlationId, events}`, plus what a reader needs around it. */
export interface Timeline {
  correlationId: string
  events: TimelineEvent[]
  runs: TimelineRun[]
  incidents: { id: string; state: string; title: string }[]
  /** Commands and runbooks for what the runs' state asks of an operator now. */
  nextSteps: string[]
}
