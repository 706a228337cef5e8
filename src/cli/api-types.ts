/**
 * The JSON shapes the CLI reads from the server's HTTP API (CONTRACT.md "HTTP API"): inferred
 * from the schemas the server declares them with, through keyrotor/client. No copies.
 */
export type {
  AlertView,
  ApprovalView,
  DependentView,
  HaltView,
  IncidentView,
  KeyView,
  RunEventView,
  RunEventsPageView as RunEventsPage,
  RunView,
  TimelineView,
} from '../client/views.js'
