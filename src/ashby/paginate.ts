/**
 * The one paginator: an async iterator over the pages of a list endpoint. Items are derived from it;
 * the client's `pages` and `items` delegate here. Pages (not items) are the unit so that the sync
 * engine can checkpoint per page and see the `syncToken` that arrives with the last one.
 */
import type { EndpointSpec } from './catalogue.js';
import { AshbyServerError } from './errors.js';
import type { AshbyPage, AshbyResult, PageOptions } from './types.js';

/** Ashby's maximum and default page size ("The maximum and default value is 100", spec `limit`). */
export const MAX_PAGE_SIZE = 100;

/** Sends one request; the client's `call`, bound to an endpoint. */
export type PageCall = (
  body: Record<string, unknown>,
  options: { signal?: AbortSignal },
) => Promise<AshbyResult<unknown>>;

/** Clamps a requested page size into 1…100. */
export function pageSize(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return MAX_PAGE_SIZE;
  return Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(limit)));
}

/**
 * The request body for one page. `limit` goes to endpoints whose contract documents it; a `cursor` goes
 * to any endpoint that handed one out (Ashby pages lists its 2024 contract calls unpaginated). `syncToken`
 * is sent with every page of an incremental pass, together with the cursor of the page.
 */
export function pageRequestBody(
  spec: Pick<EndpointSpec, 'paginated' | 'incremental'> | undefined,
  body: Record<string, unknown>,
  page: { limit?: number | undefined; cursor?: string | undefined; syncToken?: string | undefined },
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  if (spec?.paginated !== false) out.limit = pageSize(page.limit);
  if (page.cursor !== undefined) out.cursor = page.cursor;
  if (page.syncToken !== undefined) out.syncToken = page.syncToken;
  return out;
}

/**
 * Iterates the pages of `endpoint` from `options.cursor` (or the first page) to the last. Every list is
 * followed while a page says `moreDataAvailable` and hands out a `nextCursor`, whatever the catalogue says:
 * lists the 2024 contract documents as one answer (`department.list`, `source.list`…) are paged by Ashby
 * today, and stopping after their first page would truncate them silently.
 */
export async function* paginate<T>(
  endpoint: string,
  spec: EndpointSpec | undefined,
  call: PageCall,
  body: Record<string, unknown> = {},
  options: PageOptions = {},
): AsyncGenerator<AshbyPage<T>, void, undefined> {
  const callOptions = options.signal ? { signal: options.signal } : {};
  let cursor = options.cursor;
  const seen = new Set<string>();
  for (let pageNumber = 1; ; pageNumber++) {
    const request = pageRequestBody(spec, body, {
      limit: options.limit,
      cursor,
      syncToken: options.syncToken,
    });
    const result = await call(request, callOptions);
    if (!Array.isArray(result.results)) {
      throw new AshbyServerError({
        endpoint,
        code: 'malformed_response',
        requestId: result.requestId,
        message: `expected a list of results on page ${pageNumber}, got ${result.results === null ? 'null' : typeof result.results}`,
      });
    }
    const more = result.moreDataAvailable === true;
    const nextCursor = result.nextCursor;
    if (more && (nextCursor === undefined || nextCursor === cursor || seen.has(nextCursor))) {
      // Following such a page would loop forever; Ashby's cursors always advance past the whole page.
      throw new AshbyServerError({
        endpoint,
        code: 'pagination_stalled',
        requestId: result.requestId,
        message: `page ${pageNumber} says more data is available but ${nextCursor === undefined ? 'has no nextCursor' : 'repeats an earlier cursor'}`,
      });
    }
    yield {
      results: result.results as T[],
      cursor,
      nextCursor: more ? nextCursor : undefined,
      moreDataAvailable: more,
      syncToken: more ? undefined : result.syncToken,
      warnings: result.warnings,
      pageNumber,
    };
    if (!more || nextCursor === undefined) return;
    if (cursor !== undefined) seen.add(cursor);
    cursor = nextCursor;
  }
}

/** The items of every page, in order. */
export async function* itemsOf<T>(pages: AsyncIterable<AshbyPage<T>>): AsyncGenerator<T, void, undefined> {
  for await (const page of pages) yield* page.results;
}
