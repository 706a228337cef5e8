import type { Command } from 'commander'
import { Option } from 'commander'
import { timelineMarkdown } from '../observability/timeline-markdown.js'
import { leaf } from './session.js'
import type { Act } from './session.js'

export function registerTimeline(program: Command, act: Act): void {
  leaf(program, 'timeline <correlationId>', 'everything that happened under one correlation id, in order')
    .addOption(
      new Option('--format <format>', 'md for Markdown, json for the JSON document').choices(['md', 'json']),
    )
    .action(
      act(async ({ api, out, opts, ctx }, [correlationId]) => {
        const timeline = (await api().call('getTimeline', { params: { correlationId: correlationId ?? '' } }))
          .body
        if (opts.format === 'json' && !out.json) {
          ctx.stdout(`${JSON.stringify(timeline, null, 2)}\n`)
          return
        }
        // one renderer for the server's ?format=md and this: a ticket looks the same either way
        out.emit(timeline, () =>
          opts.format === 'md'
            ? timelineMarkdown(timeline).trimEnd().split('\n')
            : timeline.events.map((e) => `${e.at}  ${e.source}  ${e.type}  ${e.message}`),
        )
      }),
    )
}
