import type { Command } from 'commander'
import { Option } from 'commander'
import type { TimelineView } from './api-types.js'
import { seg } from './http-client.js'
import { leaf } from './session.js'
import type { Act } from './session.js'

/** Markdown for pasting into an incident ticket or RCA; pipes in messages would break the table. */
export function timelineMarkdown(timeline: TimelineView): string[] {
  const escape = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
  return [
    `# Timeline ${timeline.correlationId}`,
    '',
    '| time | source | event | message |',
    '| --- | --- | --- | --- |',
    ...timeline.events.map(
      (e) => `| ${e.at} | ${escape(e.source)} | ${escape(e.type)} | ${escape(e.message)} |`,
    ),
  ]
}

export function registerTimeline(program: Command, act: Act): void {
  leaf(program, 'timeline <correlationId>', 'everything that happened under one correlation id, in order')
    .addOption(
      new Option('--format <format>', 'md for Markdown, json for the JSON document').choices(['md', 'json']),
    )
    .action(
      act(async ({ api, out, opts, ctx }, [correlationId]) => {
        const timeline = await api().get<TimelineView>(`/v1/timeline/${seg(correlationId ?? '')}`)
        if (opts.format === 'json' && !out.json) {
          ctx.stdout(`${JSON.stringify(timeline, null, 2)}\n`)
          return
        }
        out.emit(timeline, () =>
          opts.format === 'md'
            ? timelineMarkdown(timeline)
            : timeline.events.map((e) => `${e.at}  ${e.source}  ${e.type}  ${e.message}`),
        )
      }),
    )
}
