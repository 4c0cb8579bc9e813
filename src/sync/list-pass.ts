/** One pass over a top-level list endpoint: every page committed with its checkpoint. */
import type { PageOptions } from '../ashby/index.js';
import type { StreamState } from '../sinks/index.js';
import { defined } from '../util/defined.js';
import type { RunContext } from './context.js';
import { readAhead, type StreamWriter } from './pages.js';
import { nextState, passStartState } from './state.js';
import type { PassMode } from './types.js';

/**
 * Reads a list endpoint in `mode` (from the stored cursor when `resume`), committing each page with the
 * state it leads to; a full pass then applies its deletes. Throws what the client or the sink throws.
 */
export async function listPass(
  ctx: RunContext,
  writer: StreamWriter,
  mode: PassMode,
  start: StreamState | undefined,
  resume: boolean,
): Promise<void> {
  const { stream } = writer;
  let state = passStartState(start, resume, mode, ctx.now().toISOString());
  if (mode === 'full') await writer.beginPass(state);
  const body = stream.body?.({ includeArchived: ctx.settings.includeArchived }) ?? {};
  const options: PageOptions = {
    signal: ctx.signal,
    ...defined({ limit: ctx.settings.pageSize }),
    ...(resume && state.cursor !== undefined ? { cursor: state.cursor } : {}),
    ...(mode === 'incremental' && state.syncToken !== undefined ? { syncToken: state.syncToken } : {}),
  };
  let pages = 0;
  for await (const page of readAhead(ctx.client.pages(stream.endpoint, body, options))) {
    const more = page.moreDataAvailable && page.nextCursor !== undefined;
    state = nextState(state, {
      type: 'list-page',
      nextCursor: more ? page.nextCursor : undefined,
      syncToken: page.syncToken,
      at: ctx.now().toISOString(),
    });
    state = await writer.commit(page.results, state);
    pages++;
  }
  if (pages === 0) throw new Error(`${stream.endpoint} returned no page`);
  if (mode === 'full') await writer.finishFull(state);
}
