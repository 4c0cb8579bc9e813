/**
 * Pages on their way from Ashby to the sink: read one ahead, screened (records without a usable key are
 * rejected, confidential ones dropped), then committed with the stream's state in one transaction.
 */
import { looksAnonymised } from '../privacy/anonymised.js';
import type { PageParent, StreamLock, StreamShape, StreamState } from '../sinks/index.js';
import type { ConfidentialContext, ResolvedStream } from '../streams/index.js';
import { type RunContext, type StreamTally, shapeOf } from './context.js';
import { AbortedError } from './failure.js';
import { nextState } from './state.js';

/**
 * Iterates `source` one item ahead: the next page is requested as soon as the current one arrives, so
 * the network wait overlaps the sink's write. Order and checkpoints are unchanged; a crash loses at most
 * the page fetched ahead, which the resumed pass fetches again.
 */
export async function* readAhead<T>(source: AsyncIterableIterator<T>): AsyncGenerator<T> {
  let next = source.next();
  try {
    for (;;) {
      const result = await next;
      if (result.done) return;
      next = source.next();
      // The consumer may stop before awaiting it; its failure then surfaces through return(), not here.
      next.catch(() => {});
      yield result.value;
    }
  } finally {
    await source.return?.();
  }
}

/** A record that cannot be stored, and why. */
export interface Rejected {
  record: unknown;
  reason: string;
}

/** What {@link screenPage} made of a page. */
export interface ScreenedPage {
  /** Records to store. */
  kept: Record<string, unknown>[];
  /** Records without a usable key: counted and logged, never stored. */
  rejected: Rejected[];
  /** Records left out by `--exclude-confidential`. */
  dropped: number;
  /** Confidential ids seen for the first time in this page. */
  newConfidentialIds: string[];
}

/** `a number`, `an object`, `an array`… for messages. */
function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Why a record cannot be stored under the stream's key, or `undefined` when it can. */
export function keyProblem(record: unknown, primaryKey: readonly string[]): string | undefined {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    return `not an object (${record === null ? 'null' : kindOf(record)})`;
  }
  for (const field of primaryKey) {
    const value = (record as Record<string, unknown>)[field];
    if (value === undefined || value === null) return `no ${field}`;
    // Ashby's ids are strings (UUIDs): anything else cannot be told apart from another record's key.
    if (typeof value !== 'string') return `${field} is ${kindOf(value)}, not a string`;
    if (value === '') return `${field} is empty`;
  }
  return undefined;
}

/**
 * Sorts a page's records into kept, rejected and (with `excludeConfidential`) dropped ones, adding the
 * ids of dropped records to `confidential`. Pure but for that set.
 */
export function screenPage(
  records: readonly unknown[],
  stream: Pick<ResolvedStream, 'primaryKey' | 'confidential' | 'confidentialKind'>,
  confidential: ConfidentialContext,
  excludeConfidential: boolean,
): ScreenedPage {
  const out: ScreenedPage = { kept: [], rejected: [], dropped: 0, newConfidentialIds: [] };
  for (const record of records) {
    const problem = keyProblem(record, stream.primaryKey);
    if (problem !== undefined) {
      out.rejected.push({ record, reason: problem });
      continue;
    }
    const r = record as Record<string, unknown>;
    if (excludeConfidential && stream.confidential?.(r, confidential)) {
      out.dropped++;
      const id = r.id;
      if (stream.confidentialKind && typeof id === 'string') {
        const set = confidential[stream.confidentialKind];
        if (!set.has(id)) out.newConfidentialIds.push(id);
        set.add(id);
      }
      continue;
    }
    out.kept.push(r);
  }
  return out;
}

/** `state` with history mode on or off (the flag goes with every page, so the sink sees it in the page's transaction). */
function withHistory(state: StreamState, on: boolean): StreamState {
  if ((state.history === true) === on) return state;
  const { history: _old, ...rest } = state;
  return on ? { ...rest, history: true } : rest;
}

/** Writes one stream's pages and finishes its full passes, counting as it goes. */
export class StreamWriter {
  readonly shape: StreamShape;

  constructor(
    private readonly ctx: RunContext,
    readonly stream: ResolvedStream,
    readonly tally: StreamTally,
    private readonly lock: StreamLock,
  ) {
    this.shape = shapeOf(stream);
  }

  /** Screens the records and commits them with `state`; returns the state as stored. */
  async commit(records: readonly unknown[], state: StreamState, parent?: PageParent): Promise<StreamState> {
    const { ctx, stream, tally } = this;
    if (ctx.signal.aborted) throw new AbortedError('aborted');
    this.lock.assertHeld();
    const page = screenPage(records, stream, ctx.confidential, ctx.settings.excludeConfidential);
    const pii = ctx.pii;
    for (const { record, reason } of page.rejected) {
      tally.reject(reason);
      // The run log keeps the record itself, so nothing Ashby sent is lost from sight (but what the
      // policy keeps out of the target stays out of the log too).
      const logged =
        pii && record !== null && typeof record === 'object' && !Array.isArray(record)
          ? pii.record(stream.name, record as Record<string, unknown>)
          : record;
      ctx.logger.warn('record rejected', { stream: stream.name, reason, record: logged });
    }
    tally.droppedConfidential += page.dropped;
    let next = state;
    const kind = stream.confidentialKind;
    if (ctx.settings.excludeConfidential && kind) {
      // Remembered with the stream, so an incremental run that only sees a new offer still knows its job.
      if (page.newConfidentialIds.length > 0 || state.confidentialIds === undefined) {
        next = nextState(state, { type: 'confidential-ids', ids: [...ctx.confidential[kind]] });
      }
    }
    // The policy's fingerprint goes with every page, so a changed policy is noticed by the next run.
    if (next.piiPolicy !== pii?.fingerprint) {
      const { piiPolicy: _old, ...rest } = next;
      next = pii ? { ...rest, piiPolicy: pii.fingerprint } : rest;
    }
    next = withHistory(next, ctx.settings.history.has(stream.name));
    const stored = pii ? page.kept.map((r) => pii.record(stream.name, r)) : page.kept;
    if (ctx.anonymised && stream.name === 'candidates') await noteAnonymised(ctx, this.shape, stored);
    const r = await ctx.sink.upsertPage(this.shape, stored, next, parent ? { parent } : {});
    tally.pages++;
    tally.records += page.kept.length;
    tally.inserted += r.inserted;
    tally.updated += r.updated;
    tally.unchanged += r.unchanged;
    tally.undeleted += r.undeleted;
    for (const c of r.newColumns) tally.newColumns.add(c);
    for (const n of r.notices ?? []) tally.notices.add(n);
    tally.notStored += r.notStored ?? 0;
    ctx.emit({ type: 'page', stream: stream.name, pages: tally.pages, records: tally.records });
    return next;
  }

  /** Registers the start of a full pass with the sink (its deletes spare rows seen after this moment). */
  async beginPass(state: StreamState): Promise<void> {
    if (state.passId !== undefined) await this.ctx.sink.beginPass(this.stream.name, state.passId);
  }

  /** Applies the deletes of a complete full pass and stores its final state. */
  async finishFull(state: StreamState): Promise<void> {
    this.lock.assertHeld();
    const final = withHistory(
      nextState(state, { type: 'pass-finished', at: this.ctx.now().toISOString() }),
      this.ctx.settings.history.has(this.stream.name),
    );
    const { deleted } = await this.ctx.sink.finishFullPass(this.shape, state.passId ?? '', final);
    this.tally.deleted += deleted;
  }
}

/** The candidates of a page whose stored row had contact details and whose new record has none. */
async function noteAnonymised(
  ctx: RunContext,
  shape: StreamShape,
  records: ReadonlyArray<Record<string, unknown>>,
): Promise<void> {
  const ids = records
    .filter(looksAnonymised)
    .map((r) => r.id)
    .filter((id): id is string => typeof id === 'string');
  if (ids.length === 0) return;
  const before = await ctx.sink.readStored(shape, ids);
  for (const id of ids) {
    const old = before.get(id);
    if (old && !looksAnonymised(old.record)) ctx.anonymised?.add(id);
  }
}
