import { z } from 'zod'

// The ticketing sinks of `notifications.incidents`: each opens a ticket when an incident opens,
// comments on it with the incident's timeline events and resolves it with the RCA. Credentials
// are named by environment variable, never written here.
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { message: 'must be an environment variable name' })
const httpUrl = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
/** Every `type` an entry of `notifications.incidents` may have. */
export const INCIDENT_SINK_TYPES = [
  'webhook',
  'slack',
  'pagerduty',
  'github',
  'jira',
  'servicenow',
  'template',
] as const
const label = z.string().regex(/^\S{1,100}$/, { message: 'must be a label without spaces' })

export const githubSinkSchema = z
  .object({
    type: z.literal('github'),
    repo: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, { message: 'must be owner/name' })
      .describe('The repository issues are opened in, as owner/name.'),
    url: httpUrl
      .default('https://api.github.com')
      .describe('The REST API root; GitHub Enterprise Server: https://HOST/api/v3.'),
    tokenEnv: envName.describe(
      'Environment variable holding the token (fine-grained: Issues read and write on the repository).',
    ),
    labels: z.array(label).default(['keyrotor', 'incident']).describe('Labels of the issues opened.'),
  })
  .strict()

export const jiraSinkSchema = z
  .object({
    type: z.literal('jira'),
    url: httpUrl.describe('The Jira Cloud site, e.g. https://your-team.atlassian.net.'),
    project: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]{0,49}$/, { message: 'must be a Jira project key such as OPS' })
      .describe('The project key issues are created in.'),
    issueType: z
      .string()
      .min(1)
      .default('Task')
      .describe('The issue type by name (e.g. Task, Incident, Bug).'),
    user: z.string().min(1).describe('The e-mail address of the account the API token belongs to.'),
    tokenEnv: envName.describe('Environment variable holding the Atlassian API token.'),
    labels: z.array(label).default(['keyrotor']).describe('Labels of the issues created.'),
    doneTransition: z
      .string()
      .min(1)
      .optional()
      .describe('The transition taken on close, by name; default: the first one into a "done" status.'),
  })
  .strict()

export const servicenowSinkSchema = z
  .object({
    type: z.literal('servicenow'),
    url: httpUrl.describe('The instance, e.g. https://your-company.service-now.com.'),
    user: z
      .string()
      .min(1)
      .describe('The integration user (needs the itil role or write access to incident).'),
    passwordEnv: envName.describe('Environment variable holding that user’s password.'),
    assignmentGroup: z
      .string()
      .min(1)
      .optional()
      .describe('assignment_group of the incidents opened (a group name or sys_id).'),
    closeCode: z
      .string()
      .min(1)
      .default('Solution provided')
      .describe('close_code set on resolution (one of the instance’s resolution codes).'),
    closeState: z
      .string()
      .regex(/^\d+$/, { message: 'must be a state number such as 6 (Resolved) or 7 (Closed)' })
      .default('6')
      .describe('state set on resolution: 6 is Resolved, 7 Closed in the base system.'),
  })
  .strict()

export const templateSinkSchema = z
  .object({
    type: z.literal('template'),
    url: httpUrl.optional().describe('Where a new ticket is POSTed.'),
    urlEnv: envName.optional().describe('Environment variable holding that URL, when it is a credential.'),
    templateFile: z
      .string()
      .min(1)
      .describe(
        'The template of the JSON body of every event (path absolute or from the working directory).',
      ),
    idField: z
      .string()
      .regex(/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/, {
        message: 'must be a dotted member path such as result.id',
      })
      .optional()
      .describe('Member of the opening’s JSON answer holding the ticket id, available as {{ticket.id}}.'),
    updateUrl: z
      .string()
      .refine((u) => URL.canParse(u.replaceAll('{{ticket.id}}', 'x')) && /^https?:/.test(u), {
        message: 'must be an http(s) URL (it may contain {{ticket.id}})',
      })
      .optional()
      .describe('Where comments and the close go; {{ticket.id}} is replaced. Default: url.'),
    updateMethod: z
      .enum(['POST', 'PUT', 'PATCH'])
      .default('POST')
      .describe('The method of comments and the close.'),
    secretEnv: envName.optional().describe('Environment variable holding the token or password sent.'),
    auth: z.enum(['bearer', 'basic']).default('bearer').describe('How the secret is sent in Authorization.'),
    user: z.string().min(1).optional().describe('The user of basic auth.'),
  })
  .strict()
  .refine((s) => (s.url === undefined) !== (s.urlEnv === undefined), {
    message: 'give exactly one of url and urlEnv',
  })
  .refine((s) => s.auth !== 'basic' || s.user !== undefined, {
    message: 'auth: basic needs a user',
    path: ['user'],
  })

export type GithubSinkConfig = z.infer<typeof githubSinkSchema>
export type JiraSinkConfig = z.infer<typeof jiraSinkSchema>
export type ServicenowSinkConfig = z.infer<typeof servicenowSinkSchema>
export type TemplateSinkConfig = z.infer<typeof templateSinkSchema>
