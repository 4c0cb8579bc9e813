/** One full pass of a child stream: one list per parent, each page committed with its checkpoint. */
import { classifyAshbyError } from '../ashby/errors.js';
import type { PageParent, StreamState } from '../sinks/index.js';
import { storedRecordOf } from '../sinks/records.js';
import type { FanOut, ParentLink } from '../streams/index.js';
import { defined } from '../util/defined.js';
import type { RunContext } from './context.js';
import { readAhead, type StreamWriter } from './pages.js';
import { nextState, passStartState } from './state.js';

/** Rows read per query when a child stream walks its parent's table. */
const PARENT_BATCH = 5000;

/**
 * Walks the live rows of a stream's table in primary key order, {@link PARENT_BATCH} at a time, handing each
 * one's stored record (undefined when its raw JSON is unreadable) and its row to `visit`.
 */
export async function forEachLiveRow(
  ctx: RunContext,
  stream: string,
  visit: (record: Record<string, unknown> | undefined, row: Record<string, unknown>) => void,
): Promise<void> {
  for (let offset = 0; ; offset += PARENT_BATCH) {
    const rows = await ctx.sink.readRows(stream, {
      limit: PARENT_BATCH,
      offset,
      includeDeleted: false,
    });
    for (const row of rows) {
      if (row._ashpipe_deleted_at !== null && row._ashpipe_deleted_at !== undefined) continue;
      visit(storedRecordOf(row), row);
    }
    if (rows.length < PARENT_BATCH) break;
  }
}

/** The parent values of a child stream, in a stable order: the live rows of its parent's table, or a fixed list. */
async function parentValues(ctx: RunContext, parent: ParentLink | FanOut): Promise<string[]> {
  if (parent.kind === 'values') return [...parent.values];
  const values: string[] = [];
  await forEachLiveRow(ctx, parent.stream, (record, row) => {
    const value = record?.[parent.field] ?? row[parent.field];
    if (typeof value === 'string') values.push(value);
  });
  return values;
}

/**
 * Where a resumed walk continues: inside the parent it stopped at, or after the last one it finished. A
 * checkpoint naming a parent that is gone starts the walk over: always correct, only slower.
 */
function resumePoint(values: readonly string[], state: StreamState): { from: number; inside: boolean } {
  const current = state.parentCurrent;
  if (current !== undefined && values.includes(current))
    return { from: values.indexOf(current), inside: true };
  const done = state.parentDone;
  if (done !== undefined && values.includes(done)) return { from: values.indexOf(done) + 1, inside: false };
  return { from: 0, inside: false };
}

/**
 * Reads every parent's list of a child stream (from the stored parent and cursor when `resume`), then
 * applies the pass's deletes. A parent gone since its table was read (`*_not_found`) is skipped: its rows
 * are soft-deleted when the pass completes.
 */
export async function childPass(
  ctx: RunContext,
  writer: StreamWriter,
  start: StreamState | undefined,
  resume: boolean,
): Promise<void> {
  const { stream, tally } = writer;
  const parent = stream.parent;
  if (!parent) throw new Error(`${stream.name} has no parent`);
  let state = passStartState(start, resume, 'full', ctx.now().toISOString());
  await writer.beginPass(state);
  const values = await parentValues(ctx, parent);
  const { from, inside } = resume ? resumePoint(values, state) : { from: 0, inside: false };
  const body = stream.body?.({ includeArchived: ctx.settings.includeArchived }) ?? {};
  let skipped = 0;
  for (let i = from; i < values.length; i++) {
    const value = values[i] as string;
    const cursor = i === from && inside ? state.cursor : undefined;
    // Many child records do not name their parent (a note has no candidateId): the sink stores it.
    const pageParent: PageParent | undefined =
      parent.kind === 'stream' ? { field: parent.param, value } : undefined;
    const pages = ctx.client.pages(
      stream.endpoint,
      { ...body, [parent.param]: value },
      {
        signal: ctx.signal,
        ...defined({ limit: ctx.settings.pageSize, cursor }),
      },
    );
    try {
      for await (const page of readAhead(pages)) {
        const more = page.moreDataAvailable && page.nextCursor !== undefined;
        state = nextState(state, {
          type: 'child-page',
          parent: value,
          nextCursor: more ? page.nextCursor : undefined,
          lastParent: i === values.length - 1,
        });
        state = await writer.commit(page.results, state, pageParent);
      }
    } catch (error) {
      if (classifyAshbyError(error) !== 'not-found') throw error;
      skipped++;
    }
  }
  if (skipped > 0) {
    tally.reasons.push(
      `${skipped} ${parent.kind === 'stream' ? parent.stream : parent.param} no longer found`,
    );
  }
  if (values.length === 0) {
    state = nextState(state, { type: 'no-parents' });
    await ctx.sink.saveState(stream.name, state);
  }
  await writer.finishFull(state);
}
