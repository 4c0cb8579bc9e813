import type { StreamDefinition } from '../streams/types.js';
import type { PageSource } from './context.js';

/**
 * Reads the first page of a stream's endpoint, at most `limit` records, and stores nothing: what a source
 * flow's dry run and the console's preview of a stream show. Archived records are left out, as a person
 * previewing a stream expects the live ones.
 * @example await readFirstPage(client, findStream('users'), 5)
 */
export async function readFirstPage(
  client: PageSource,
  stream: Pick<StreamDefinition, 'endpoint' | 'body'>,
  limit: number,
  signal?: AbortSignal,
): Promise<unknown[]> {
  const body = { ...(stream.body?.({ includeArchived: false }) ?? {}) };
  for await (const page of client.pages(stream.endpoint, body, { limit, ...(signal ? { signal } : {}) })) {
    return page.results.slice(0, limit);
  }
  return [];
}
