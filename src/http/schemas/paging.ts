import { z } from 'zod'
import { MAX_PAGE_SIZE } from '../../store/keyset-page.js'
import { queryInt } from './common.js'

/** A date, or a date and time with an optional zone: ISO 8601, not whatever Date.parse takes. */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/

/** `limit` and `cursor`, the same on every list route (docs/cli.md, "Paging and filtering lists"). */
export function pageQuery(max = MAX_PAGE_SIZE) {
  return {
    limit: queryInt(1, max)
      .optional()
      .describe(
        `The most items in the page (at most ${max}); the X-Next-Cursor header is set when more follow`,
      ),
    cursor: z
      .string()
      .min(1)
      .max(1000)
      .optional()
      .describe(
        'The X-Next-Cursor of the previous page, unchanged: the next page starts after its last item',
      ),
  }
}

/** `since` (inclusive) and `until` (exclusive) over the time a list is ordered by. */
export function timeRangeQuery(what: string) {
  return {
    since: z.string().max(64).regex(ISO_8601).optional().describe(`${what} at or after this time`),
    until: z.string().max(64).regex(ISO_8601).optional().describe(`${what} before this time`),
  }
}

/** The headers a list's page answers with while more items follow (src/http/paging.ts). */
export const PAGE_HEADERS = {
  'x-next-cursor': z.string().optional().describe('Where the next page starts; absent on the last page'),
  link: z.string().optional().describe('RFC 8288 `<url>; rel="next"` with the same query and the cursor'),
}
