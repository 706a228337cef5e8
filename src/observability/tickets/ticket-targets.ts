import type {
  GithubSinkConfig,
  JiraSinkConfig,
  ServicenowSinkConfig,
  TemplateSinkConfig,
} from '../../config/ticket-sinks-schema.js'
import type { TicketSettings, TicketSinkType } from './ticket-system.js'

/** A ticketing sink as keyrotor.yaml declares it (after the schema's defaults). */
export type TicketSinkEntry = GithubSinkConfig | JiraSinkConfig | ServicenowSinkConfig | TemplateSinkConfig

export interface TicketTarget {
  type: TicketSinkType
  url: string
  /** The variable holding the credential (tokenEnv, passwordEnv, secretEnv). */
  secretEnv: string | undefined
  ticket: TicketSettings
  /** What the sink id is made from: no credential, and distinct for two repositories of one API. */
  named: string
}

/** A ticketing sink's target, or undefined when its URL comes from a variable that is not set. */
export function ticketTarget(
  entry: TicketSinkEntry,
  secretOf: (name: string) => string | undefined,
): TicketTarget | undefined {
  switch (entry.type) {
    case 'github':
      return {
        type: 'github',
        url: entry.url,
        secretEnv: entry.tokenEnv,
        ticket: { type: 'github', repo: entry.repo, labels: entry.labels },
        named: `${entry.url}#${entry.repo}`,
      }
    case 'jira':
      return {
        type: 'jira',
        url: entry.url,
        secretEnv: entry.tokenEnv,
        ticket: {
          type: 'jira',
          project: entry.project,
          issueType: entry.issueType,
          user: entry.user,
          labels: entry.labels,
          doneTransition: entry.doneTransition,
        },
        named: `${entry.url}#${entry.project}`,
      }
    case 'servicenow':
      return {
        type: 'servicenow',
        url: entry.url,
        secretEnv: entry.passwordEnv,
        ticket: {
          type: 'servicenow',
          user: entry.user,
          assignmentGroup: entry.assignmentGroup,
          closeCode: entry.closeCode,
          closeState: entry.closeState,
        },
        named: entry.url,
      }
    case 'template': {
      // a URL given by environment variable never reaches the store, not even in the config text
      const url = entry.url ?? (entry.urlEnv === undefined ? undefined : secretOf(entry.urlEnv))
      if (url === undefined) return undefined
      return {
        type: 'template',
        url,
        secretEnv: entry.secretEnv,
        ticket: {
          type: 'template',
          templateFile: entry.templateFile,
          idField: entry.idField,
          updateUrl: entry.updateUrl,
          updateMethod: entry.updateMethod,
          auth: entry.auth,
          user: entry.user,
        },
        named: `${entry.url ?? `env:${entry.urlEnv ?? ''}`}#${entry.templateFile}`,
      }
    }
  }
}
