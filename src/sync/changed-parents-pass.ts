/**
 * One pass of a changed-parents stream (`application_stage_history`): like a child pass, one list per
 * parent, but an incremental pass reads only the parents updated since the last complete pass. A parent's
 * records are read whole and committed as one page with the checkpoint naming that parent.
 */
import { classifyAshbyError } from '../ashby/errors.js';
import type { StreamState } from '../sinks/index.js';
import type { ChangedParents, ParentLink } from '../streams/index.js';
import { defined } from '../util/defined.js';
import { forEachLiveRow } from './child-pass.js';
import type { RunContext } from './context.js';
import type { StreamWriter } from './pages.js';
import { nextState, passStartState } from './state.js';
import type { PassMode } from './types.js';

/** Parents whose records are requested ahead of the one being committed. */
const READ_AHEAD = 4;

/** A parent row as the pass needs it: its id and when Ashby last updated it. */
interface ParentRow {
  id: string;
  updatedAt: number | undefined;
}

/** The live rows of the parent stream, in primary key order. */
async function parentRows(ctx: RunContext, parent: ParentLink): Promise<ParentRow[]> {
  const out: ParentRow[] = [];
  await forEachLiveRow(ctx, parent.stream, (raw, row) => {
    const id = raw?.[parent.field] ?? row[parent.field];
    if (typeof id !== 'string') return;
    const at = typeof raw?.updatedAt === 'string' ? Date.parse(raw.updatedAt) : Number.NaN;
    out.push({ id, updatedAt: Number.isFinite(at) ? at : undefined });
  });
  return out;
}

/**
 * The latest `updatedAt` among `rows` and the ids updated at exactly that time: the next pass reads the
 * parents updated after it, and those updated at that very time that it did not cover.
 */
export function watermarkOf(rows: readonly ParentRow[]): { at: string; ids: string[] } | undefined {
  let max: number | undefined;
  for (const r of rows)
    if (r.updatedAt !== undefined && (max === undefined || r.updatedAt > max)) max = r.updatedAt;
  if (max === undefined) return undefined;
  return { at: new Date(max).toISOString(), ids: rows.filter((r) => r.updatedAt === max).map((r) => r.id) };
}

/**
 * The parents an incremental pass reads: updated after the watermark, or at it but not among the ids the
 * watermark covered; a parent without a readable `updatedAt` is always read (it cannot be told unchanged).
 */
export function changedSince(
  rows: readonly ParentRow[],
  watermark: { at: string; ids: readonly string[] } | undefined,
): ParentRow[] {
  if (watermark === undefined) return [...rows];
  const at = Date.parse(watermark.at);
  if (!Number.isFinite(at)) return [...rows];
  const covered = new Set(watermark.ids);
  return rows.filter(
    (r) => r.updatedAt === undefined || r.updatedAt > at || (r.updatedAt === at && !covered.has(r.id)),
  );
}

/** Where a resumed walk continues: after the last parent it finished (a parent's records are one page). */
function resumeFrom(ids: readonly string[], state: StreamState): number {
  const done = state.parentDone;
  if (done !== undefined && ids.includes(done)) return ids.indexOf(done) + 1;
  return 0;
}

/**
 * Whether an error of the list endpoint means the key or account does not serve it (an endpoint it does not
 * know, a permission it lacks), rather than a parent gone (`application_not_found`).
 */
function unserved(error: unknown, parentNotFoundCode: string): boolean {
  const kind = classifyAshbyError(error);
  if (kind === undefined) return false;
  if (kind === 'permission') return true;
  const { code, httpStatus } = error as { code?: string; httpStatus?: number };
  if (code === 'unknown_endpoint' || (httpStatus === 404 && code !== parentNotFoundCode)) return true;
  return kind === 'not-found' && code !== parentNotFoundCode;
}

/** How the pass reads one parent's records. */
type Reader = 'list' | 'fallback';

/**
 * Runs a changed-parents pass in `mode` (resuming after the stored parent when `resume`). A full pass
 * reads every live parent and then applies its deletes; an incremental one reads the changed parents and
 * soft-deletes the rows of those parents that their new list no longer has.
 */
export async function changedParentsPass(
  ctx: RunContext,
  writer: StreamWriter,
  mode: PassMode,
  start: StreamState | undefined,
  resume: boolean,
): Promise<void> {
  const { stream, tally } = writer;
  const parent = stream.parent;
  const how: ChangedParents | undefined = stream.changedParents;
  if (parent?.kind !== 'stream' || !how) throw new Error(`${stream.name} is not a changed-parents stream`);
  let state = passStartState(start, resume, mode, ctx.now().toISOString());
  if (mode === 'full') await writer.beginPass(state);
  const all = await parentRows(ctx, parent);
  const watermark = watermarkOf(all);
  const wanted = mode === 'full' ? all : changedSince(all, state.parentsChangedAfter);
  const ids = wanted.map((r) => r.id);
  const from = resume ? resumeFrom(ids, state) : 0;
  // Incremental: which rows each parent had, so a record its new list lacks can be soft-deleted.
  const stored = mode === 'incremental' ? await rowsByParent(ctx, stream.name) : new Map<string, string[]>();
  const parentNotFound = `${parent.stream.replace(/s$/, '')}_not_found`;
  let reader: Reader = 'list';
  let skipped = 0;
  let removed = 0;
  // Reads of the next parents start while this one is committed; the client's limiter bounds how many run.
  const inflight = new Map<number, Promise<unknown[]>>();
  const startRead = (k: number) => {
    if (k >= ids.length || inflight.has(k)) return;
    const read = readParent(ctx, stream.endpoint, how, reader, parent.param, ids[k] as string);
    // Awaited in order below; a read dropped before then must not surface as an unhandled rejection.
    read.catch(() => {});
    inflight.set(k, read);
  };
  // Until one read succeeded the endpoint may be unserved: read one at a time, so a fallback costs one request.
  let served = false;
  for (let i = from; i < ids.length; i++) {
    for (let k = i; k < Math.min(ids.length, i + (served ? READ_AHEAD : 1)); k++) startRead(k);
    const id = ids[i] as string;
    let records: unknown[];
    try {
      records = await (inflight.get(i) as Promise<unknown[]>);
      inflight.delete(i);
      served = true;
    } catch (error) {
      inflight.delete(i);
      if (reader === 'list' && how.fallback && ctx.client.call && unserved(error, parentNotFound)) {
        reader = 'fallback';
        // Reads started with the list endpoint fail the same way: start them again with the fallback.
        inflight.clear();
        const message = `${stream.endpoint} is not served to this key (${(error as { code?: string }).code ?? 'refused'}): reading ${how.fallback.endpoint} instead`;
        ctx.emit({ type: 'warning', stream: stream.name, message });
        ctx.logger.warn('changed-parents stream falls back', {
          stream: stream.name,
          endpoint: stream.endpoint,
          fallback: how.fallback.endpoint,
        });
        i--;
        continue;
      }
      if (classifyAshbyError(error) !== 'not-found') throw error;
      skipped++;
      continue;
    }
    const rows = how.rows(id, records);
    state = nextState(state, { type: 'child-page', parent: id, nextCursor: undefined, lastParent: false });
    state = await writer.commit(rows, state, { field: parent.param, value: id });
    const before = stored.get(id);
    if (before) {
      const now = new Set(
        rows.flatMap((r) => {
          const key = (r as Record<string, unknown> | null)?.id;
          return typeof key === 'string' ? [key] : [];
        }),
      );
      const gone = before.filter((k) => !now.has(k));
      if (gone.length > 0) removed += await ctx.sink.markDeleted(writer.shape, gone);
    }
  }
  tally.deleted += removed;
  tally.reasons.push(
    `${mode === 'full' ? 'read every' : `read ${ids.length - from} changed`} ${parent.stream.replace(/_/g, ' ')} of ${all.length} with ${reader === 'list' ? stream.endpoint : how.fallback?.endpoint}`,
  );
  if (skipped > 0) tally.reasons.push(`${skipped} ${parent.stream} no longer found`);
  const at = ctx.now().toISOString();
  const covered = watermark ?? state.parentsChangedAfter;
  if (mode === 'full') {
    // The watermark is stored with the pass's deletes, in one transaction.
    await writer.finishFull(clean({ ...state, pendingFinish: true, parentsChangedAfter: covered }));
    return;
  }
  const final = covered
    ? nextState(state, { type: 'changed-parents-finished', at, watermark: covered })
    : { ...state, lastCompletedAt: at };
  await ctx.sink.saveState(stream.name, final);
}

/** `state` without its `undefined` members. */
function clean(state: { [K in keyof StreamState]?: StreamState[K] | undefined }): StreamState {
  return defined(state) as StreamState;
}

/** The live rows of `stream` by their stored parent id (`_ashpipe_parent_id`). */
async function rowsByParent(ctx: RunContext, stream: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  await forEachLiveRow(ctx, stream, (raw, row) => {
    const parentId = row._ashpipe_parent_id;
    const id = raw?.id;
    if (typeof parentId !== 'string' || typeof id !== 'string') return;
    const list = out.get(parentId) ?? [];
    list.push(id);
    out.set(parentId, list);
  });
  return out;
}

/** Every record of one parent: all pages of the list endpoint, or the list field of the fallback's record. */
async function readParent(
  ctx: RunContext,
  endpoint: string,
  how: ChangedParents,
  reader: Reader,
  param: string,
  id: string,
): Promise<unknown[]> {
  if (reader === 'fallback' && how.fallback && ctx.client.call) {
    const answer = await ctx.client.call<Record<string, unknown>>(
      how.fallback.endpoint,
      { [param]: id },
      { signal: ctx.signal },
    );
    const list = answer.results?.[how.fallback.field];
    return Array.isArray(list) ? list : [];
  }
  const out: unknown[] = [];
  const pages = ctx.client.pages(
    endpoint,
    { [param]: id },
    { signal: ctx.signal, ...defined({ limit: ctx.settings.pageSize }) },
  );
  for await (const page of pages) out.push(...page.results);
  return out;
}
