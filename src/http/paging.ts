import type { FastifyReply, FastifyRequest } from 'fastify'
import { MAX_PAGE_SIZE, type Page } from '../store/keyset-page.js'

/** A date, or a date and time with an optional zone: ISO 8601, not whatever Date.parse takes. */
export const ISO_8601 =
  '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})?)?$'

/** `limit` and `cursor`, the same on every list route. */
export function pageProperties(max = MAX_PAGE_SIZE) {
  return {
    limit: {
      type: 'integer',
      minimum: 1,
      maximum: max,
      description: `The most items in the page (at most ${max}); the X-Next-Cursor header is set when more follow`,
    },
    cursor: {
      type: 'string',
      minLength: 1,
      maxLength: 1000,
      description:
        'The X-Next-Cursor of the previous page, unchanged: the next page starts after its last item',
    },
  } as const
}

/** `since` (inclusive) and `until` (exclusive) over the time a list is ordered by. */
export function timeRangeProperties(what: string) {
  return {
    since: { type: 'string', maxLength: 64, pattern: ISO_8601, description: `${what} at or after this time` },
    until: { type: 'string', maxLength: 64, pattern: ISO_8601, description: `${what} before this time` },
  } as const
}

/**
 * The page's items as the body (an array, as the route always answered) and where the next page
 * starts in headers: `X-Next-Cursor` for clients that build their own URL, and an RFC 8288
 * `Link: <…>; rel="next"` with the same query and the cursor for those that follow links.
 * Neither is set on the last page.
 */
export function sendPage<T>(request: FastifyRequest, reply: FastifyReply, page: Page<T>): T[] {
  if (page.nextCursor !== undefined) {
    const next = new URL(request.url, 'http://keyrotor.invalid')
    next.searchParams.set('cursor', page.nextCursor)
    void reply
      .header('X-Next-Cursor', page.nextCursor)
      .header('Link', `<${next.pathname}${next.search}>; rel="next"`)
  }
  return page.items
}
