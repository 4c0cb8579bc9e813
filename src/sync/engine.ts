import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import {
  AshbyAuthError,
  AshbyCursorError,
  AshbyError,
  AshbyNotFoundError,
  AshbyPermissionError,
  AshbySyncTokenError,
} from '../ashby/errors.js';
import type { AshbyPage, PageOptions } from '../ashby/index.js';
import type { PageParent, Sink, StreamShape, StreamState } from '../sinks/index.js';
import type { ConfidentialContext, ResolvedStream } from '../streams/index.js';
import { findStream } from '../streams/index.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { EndpointCounters } from './counters.js';
import { formatDuration } from './duration.js';
import type { PassMode, StreamResult, SyncEvent, SyncSummary } from './types.js';

/** The part of the Ashby client the engine reads with. */
export interface PageSource {
  pages<T = unknown>(
    endpoint: string,
    body?: Record<string, unknown>,
    options?: PageOptions,
  ): AsyncIterableIterator<AshbyPage<T>>;
}

/** Default age of the last full pass after which an incremental stream is read in full again. */
export const DEFAULT_RECONCILE_AFTER_MS = 7 * 86_400_000;

/** How often a cursor that expired mid-pass may restart that pass before the stream fails. */
const MAX_PASS_RESTARTS = 3;

/** Rows read per query when a child stream walks its parent's table. */
const PARENT_BATCH = 5000;

export interface SyncOptions {
  /** The Ashby client (or anything that pages like it). */
  client: PageSource;
  /** Where records and state go; opened and closed by the caller. */
  sink: Sink;
  /** Streams to sync, usually from `selectStreams()`. Missing parents are added when they never synced. */
  streams: readonly ResolvedStream[];
  /**
   * Read every stream in full, whatever state is stored; rows not seen are soft-deleted.
   * @default false
   */
  fullRefresh?: boolean;
  /**
   * Ask for archived jobs, deactivated users, disabled tracking links… A warehouse wants everything.
   * @default true
   */
  includeArchived?: boolean;
  /**
   * Leave out confidential jobs and projects, and the applications, offers, openings, postings,
   * schedules and feedback of confidential jobs, even when the key can see them.
   * @default false
   */
  excludeConfidential?: boolean;
  /**
   * Read an incremental stream in full (to catch deletions) when its last full pass is older than this;
   * `null` never does.
   * @default 7 days
   * @example 86_400_000
   */
  reconcileAfterMs?: number | null;
  /**
   * Records per page (Ashby's maximum is 100). Smaller pages mean smaller transactions and checkpoints.
   * @default 100
   * @example 50
   */
  pageSize?: number;
  /** Counts requests, retries and 429s per endpoint; wire its `onEvent` into the client. */
  counters?: EndpointCounters;
  /** Stops the run; streams in flight end as `aborted`. */
  signal?: AbortSignal;
  onEvent?: (event: SyncEvent) => void;
  logger?: Logger;
  /** Clock, for tests of the reconcile schedule. */
  now?: () => Date;
}

/** Bookkeeping of a child stream's pass, kept in `state.extra`. */
interface ChildProgress {
  /** Last parent value whose lists were read completely. */
  parentDone?: string;
  /** Parent whose list is being read (its cursor is `state.cursor`). */
  parentCurrent?: string;
}

interface PassTotals {
  pages: number;
  records: number;
  inserted: number;
  updated: number;
  unchanged: number;
  undeleted: number;
  deleted: number;
  droppedConfidential: number;
  newColumns: Set<string>;
  notices: Set<string>;
  notStored: number;
}

class AbortedError extends Error {
  override name = 'AbortedError';
}

/** Drops `undefined` members so the state stays JSON-clean and fits `exactOptionalPropertyTypes`. */
function defined<T extends object>(value: { [K in keyof T]?: T[K] | undefined }): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = v;
  return out as T;
}

function extraOf(state: StreamState | undefined): Record<string, unknown> {
  return state?.extra ? { ...state.extra } : {};
}

function stringsIn(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function shapeOf(stream: ResolvedStream): StreamShape {
  return defined<StreamShape>({
    name: stream.name,
    primaryKey: stream.primaryKey,
    customFieldsObjectType: stream.customFieldsObjectType,
    customFieldsPath: stream.customFieldsPath,
  });
}

function isCursorError(error: unknown): boolean {
  if (error instanceof AshbyCursorError) return true;
  const code = error instanceof AshbyError ? error.code : undefined;
  return code === 'next_cursor_expired' || code === 'invalid_next_cursor';
}

function isSyncTokenError(error: unknown): boolean {
  if (error instanceof AshbySyncTokenError) return true;
  const code = error instanceof AshbyError ? error.code : undefined;
  return (
    code === 'sync_token_expired' || code === 'sync_token_invalid' || code === 'incremental_sync_too_large'
  );
}

function isPermissionError(error: unknown): error is AshbyError {
  if (error instanceof AshbyPermissionError) return true;
  return error instanceof AshbyError && error.code === 'missing_endpoint_permission';
}

function errorInfo(error: unknown): NonNullable<StreamResult['error']> {
  if (error instanceof AshbyError) {
    return defined<NonNullable<StreamResult['error']>>({
      code: error.code,
      message: error.message,
      requestId: error.requestId,
    });
  }
  return { message: error instanceof Error ? error.message : String(error) };
}

/**
 * Iterates `source` one item ahead: the next page is requested as soon as the current one arrives, so
 * the network wait overlaps the sink's write. Order and checkpoints are unchanged; a crash loses at most
 * the page fetched ahead, which the resumed pass fetches again.
 */
async function* readAhead<T>(source: AsyncIterableIterator<T>): AsyncGenerator<T> {
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

/** Parses `_ashpipe_raw` (text in SQLite, an object from Postgres jsonb) back into the record. */
function rawOf(row: Record<string, unknown>): Record<string, unknown> | undefined {
  const raw = row._ashpipe_raw;
  if (typeof raw === 'string') {
    try {
      const parsed: unknown = JSON.parse(raw);
      return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }
  return raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : undefined;
}

/**
 * Runs one sync: every stream concurrently (parents before children) through the client's shared limiter,
 * one transaction per page with its checkpoint, soft deletes after complete full passes only.
 * Never throws for a stream's failure: the summary says what happened and which exit code it means.
 */
export async function runSync(options: SyncOptions): Promise<SyncSummary> {
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const now = options.now ?? (() => new Date());
  const logger = options.logger ?? silentLogger;
  const counters = options.counters ?? new EndpointCounters();
  const emit = (event: SyncEvent): void => options.onEvent?.(event);
  const includeArchived = options.includeArchived ?? true;
  const excludeConfidential = options.excludeConfidential ?? false;
  const reconcileAfterMs =
    options.reconcileAfterMs === undefined ? DEFAULT_RECONCILE_AFTER_MS : options.reconcileAfterMs;
  const { sink, client } = options;

  const abort = new AbortController();
  // Every stream and every request in flight listens to the one signal of the run.
  setMaxListeners(0, abort.signal);
  let fatal: SyncSummary['fatal'];
  const onOuterAbort = () => abort.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) abort.abort();

  // Plan: add a parent that never completed, so the child has rows to walk.
  const planned = new Map<string, ResolvedStream>();
  const notes = new Map<string, string>();
  for (const s of options.streams) planned.set(s.name, s);
  for (const s of options.streams) {
    if (s.parent?.kind !== 'stream' || planned.has(s.parent.stream)) continue;
    const parentState = await sink.getState(s.parent.stream);
    if (!parentState?.lastCompletedAt) {
      const parent = findStream(s.parent.stream);
      if (parent) {
        planned.set(parent.name, parent);
        notes.set(parent.name, `added: ${s.name} needs it`);
      }
    }
  }
  const order = [...planned.values()];

  const confidential: ConfidentialContext = {
    jobIds: new Set(),
    applicationIds: new Set(),
    projectIds: new Set(),
  };
  if (excludeConfidential) {
    for (const s of order) {
      if (!s.confidentialKind) continue;
      const state = await sink.getState(s.name);
      for (const id of stringsIn(state?.extra?.confidentialIds)) confidential[s.confidentialKind].add(id);
    }
  }

  const done = new Map<string, Promise<StreamResult>>();

  const runOne = async (stream: ResolvedStream): Promise<StreamResult> => {
    // Let every stream's promise be registered before any looks up the streams it waits for.
    await Promise.resolve();
    const deps = new Set<string>();
    if (stream.parent?.kind === 'stream') deps.add(stream.parent.stream);
    if (excludeConfidential) for (const d of stream.confidentialAfter ?? []) deps.add(d);
    // Reset once the streams this one waits for are done: the duration is the stream's own.
    let t0 = Date.now();
    const before = counters.get(stream.endpoint);
    const totals: PassTotals = {
      pages: 0,
      records: 0,
      inserted: 0,
      updated: 0,
      unchanged: 0,
      undeleted: 0,
      deleted: 0,
      droppedConfidential: 0,
      newColumns: new Set(),
      notices: new Set(),
      notStored: 0,
    };
    let mode: PassMode | null = null;
    let firstSync = false;
    const reasons: string[] = [];
    const note = notes.get(stream.name);
    if (note) reasons.push(note);

    const finish = (status: StreamResult['status'], error?: StreamResult['error']): StreamResult => {
      const after = counters.get(stream.endpoint);
      const result: StreamResult = {
        stream: stream.name,
        endpoint: stream.endpoint,
        status,
        mode,
        reason: reasons.join('; '),
        pages: totals.pages,
        records: totals.records,
        inserted: totals.inserted,
        updated: totals.updated,
        unchanged: totals.unchanged,
        undeleted: totals.undeleted,
        deleted: totals.deleted,
        droppedConfidential: totals.droppedConfidential,
        // On the first sync every column is new: only later additions are schema changes worth announcing.
        newColumns: firstSync ? [] : [...totals.newColumns],
        ...(totals.notices.size > 0 || totals.notStored > 0
          ? {
              notices: [
                ...(totals.notStored > 0
                  ? [`${totals.notStored} record${totals.notStored === 1 ? '' : 's'} not stored`]
                  : []),
                ...totals.notices,
              ],
            }
          : {}),
        requests: after.requests - before.requests,
        retries: after.retries - before.retries,
        rateLimited: after.rateLimited - before.rateLimited,
        durationMs: Date.now() - t0,
        ...(error ? { error } : {}),
      };
      emit({ type: 'stream-end', result });
      return result;
    };

    for (const dep of deps) {
      const depResult = await done.get(dep);
      if (!depResult) continue;
      if (depResult.status !== 'ok' && stream.parent?.kind === 'stream' && stream.parent.stream === dep) {
        reasons.push(`parent stream ${dep} did not complete`);
        return finish('skipped', { message: `parent stream ${dep} ${depResult.status}` });
      }
      if (depResult.status !== 'ok' && excludeConfidential) {
        // Without the parent's confidential ids this stream could store what the user asked to leave out.
        reasons.push(`${dep} did not complete, so confidential records could not be told apart`);
        return finish('skipped', { message: `needs ${dep} for --exclude-confidential` });
      }
    }
    if (abort.signal.aborted) return finish('aborted');
    t0 = Date.now();

    const shape = shapeOf(stream);
    const body = stream.body?.({ includeArchived }) ?? {};

    const keepRecords = (records: readonly unknown[], newIds: Set<string>): Record<string, unknown>[] => {
      const kept: Record<string, unknown>[] = [];
      for (const r of records) {
        if (r === null || typeof r !== 'object' || Array.isArray(r)) {
          // Storing a bare value would lose it (no key): better to fail loudly than to drop data.
          throw new Error(
            `${stream.endpoint} answered with a record that is not an object: ${JSON.stringify(r)}`,
          );
        }
        const record = r as Record<string, unknown>;
        if (excludeConfidential && stream.confidential?.(record, confidential)) {
          totals.droppedConfidential++;
          const id = record.id;
          if (stream.confidentialKind && typeof id === 'string') {
            confidential[stream.confidentialKind].add(id);
            newIds.add(id);
          }
          continue;
        }
        kept.push(record);
      }
      return kept;
    };

    /** The `extra` to store with a page: remembered confidential ids stay with the stream. */
    const extraWith = (base: Record<string, unknown>, newIds: Set<string>): Record<string, unknown> => {
      if (!excludeConfidential || !stream.confidentialKind) return base;
      if (newIds.size === 0 && base.confidentialIds !== undefined) return base;
      return { ...base, confidentialIds: [...confidential[stream.confidentialKind]] };
    };

    const commit = async (
      records: readonly unknown[],
      state: StreamState,
      newIds: Set<string>,
      parent?: PageParent,
    ) => {
      const kept = keepRecords(records, newIds);
      const next: StreamState = { ...state, extra: extraWith(state.extra ?? {}, newIds) };
      const r = await sink.upsertPage(shape, kept, next, parent ? { parent } : {});
      totals.pages++;
      totals.records += kept.length;
      totals.inserted += r.inserted;
      totals.updated += r.updated;
      totals.unchanged += r.unchanged;
      totals.undeleted += r.undeleted;
      for (const c of r.newColumns) totals.newColumns.add(c);
      for (const n of r.notices ?? []) totals.notices.add(n);
      totals.notStored += r.notStored ?? 0;
      emit({ type: 'page', stream: stream.name, pages: totals.pages, records: totals.records });
      return next;
    };

    const finishFull = async (state: StreamState) => {
      const extra = extraOf(state);
      const pendingToken = typeof extra.pendingSyncToken === 'string' ? extra.pendingSyncToken : undefined;
      delete extra.pendingFinish;
      delete extra.pendingSyncToken;
      delete extra.parentDone;
      delete extra.parentCurrent;
      const at = now().toISOString();
      const final = defined<StreamState>({
        syncToken: pendingToken,
        passId: state.passId,
        passKind: 'full',
        passStartedAt: state.passStartedAt,
        pagesCommitted: state.pagesCommitted,
        lastFullPassCompletedAt: at,
        lastCompletedAt: at,
        extra: Object.keys(extra).length > 0 ? extra : undefined,
      });
      const { deleted } = await sink.finishFullPass(shape, state.passId ?? '', final);
      totals.deleted += deleted;
    };

    /** One pass over a top-level list endpoint, from `cursor` when resuming. */
    const listPass = async (kind: PassMode, start: StreamState | undefined, resume: boolean) => {
      const passId = resume && start?.passId ? start.passId : randomUUID();
      const passStartedAt = resume && start?.passStartedAt ? start.passStartedAt : now().toISOString();
      const syncToken = kind === 'incremental' ? start?.syncToken : undefined;
      let pagesCommitted = resume ? (start?.pagesCommitted ?? 0) : 0;
      const baseExtra = extraOf(start);
      delete baseExtra.pendingFinish;
      delete baseExtra.pendingSyncToken;
      const pageOptions = defined<PageOptions>({
        limit: options.pageSize,
        cursor: resume ? start?.cursor : undefined,
        syncToken,
        signal: abort.signal,
      });
      let last: StreamState | undefined;
      for await (const page of readAhead(client.pages(stream.endpoint, body, pageOptions))) {
        if (abort.signal.aborted) throw new AbortedError('aborted');
        const newIds = new Set<string>();
        const more = page.moreDataAvailable && page.nextCursor !== undefined;
        pagesCommitted++;
        const common = {
          passId,
          passKind: kind,
          passStartedAt,
          pagesCommitted,
          lastFullPassCompletedAt: start?.lastFullPassCompletedAt,
          lastCompletedAt: start?.lastCompletedAt,
        };
        let state: StreamState;
        if (more) {
          state = defined<StreamState>({ ...common, syncToken, cursor: page.nextCursor, extra: baseExtra });
        } else if (kind === 'incremental') {
          state = defined<StreamState>({
            ...common,
            syncToken: page.syncToken ?? syncToken,
            lastCompletedAt: now().toISOString(),
            extra: baseExtra,
          });
        } else {
          // The pass is read but its deletes are not applied yet: a crash here finishes it on the next run.
          state = defined<StreamState>({
            ...common,
            extra: defined<Record<string, unknown>>({
              ...baseExtra,
              pendingFinish: true,
              pendingSyncToken: page.syncToken,
            }),
          });
        }
        last = await commit(page.results, state, newIds);
      }
      if (!last) throw new Error(`${stream.endpoint} returned no page`);
      if (kind === 'full') await finishFull(last);
    };

    /** Parent values of a child stream, in a stable order. */
    const parentValues = async (): Promise<string[]> => {
      const parent = stream.parent;
      if (!parent) return [];
      if (parent.kind === 'values') return [...parent.values];
      const values: string[] = [];
      for (let offset = 0; ; offset += PARENT_BATCH) {
        const rows = await sink.readRows(parent.stream, {
          limit: PARENT_BATCH,
          offset,
          includeDeleted: false,
        });
        for (const row of rows) {
          if (row._ashpipe_deleted_at !== null && row._ashpipe_deleted_at !== undefined) continue;
          const raw = rawOf(row);
          const value = raw?.[parent.field] ?? row[parent.field];
          if (typeof value === 'string') values.push(value);
        }
        if (rows.length < PARENT_BATCH) break;
      }
      return values;
    };

    /** One full pass of a child stream: every parent's list, checkpointed per page. */
    const childPass = async (start: StreamState | undefined, resume: boolean) => {
      const parent = stream.parent;
      if (!parent) throw new Error(`${stream.name} has no parent`);
      const passId = resume && start?.passId ? start.passId : randomUUID();
      const passStartedAt = resume && start?.passStartedAt ? start.passStartedAt : now().toISOString();
      let pagesCommitted = resume ? (start?.pagesCommitted ?? 0) : 0;
      const baseExtra = extraOf(start);
      const progress: ChildProgress = resume
        ? defined<ChildProgress>({
            parentDone: typeof baseExtra.parentDone === 'string' ? baseExtra.parentDone : undefined,
            parentCurrent: typeof baseExtra.parentCurrent === 'string' ? baseExtra.parentCurrent : undefined,
          })
        : {};
      delete baseExtra.parentDone;
      delete baseExtra.parentCurrent;
      delete baseExtra.pendingFinish;
      const values = await parentValues();
      let from = 0;
      let resumeParent: string | undefined;
      if (progress.parentCurrent !== undefined && values.includes(progress.parentCurrent)) {
        from = values.indexOf(progress.parentCurrent);
        resumeParent = progress.parentCurrent;
      } else if (progress.parentDone !== undefined && values.includes(progress.parentDone)) {
        from = values.indexOf(progress.parentDone) + 1;
      }
      // A checkpoint naming a parent that is gone starts the walk over: always correct, only slower.
      let last: StreamState = defined<StreamState>({
        ...start,
        passId,
        passKind: 'full',
        passStartedAt,
        pagesCommitted,
        cursor: undefined,
        extra: baseExtra,
      });
      const common = () => ({
        passId,
        passKind: 'full' as const,
        passStartedAt,
        pagesCommitted,
        lastFullPassCompletedAt: start?.lastFullPassCompletedAt,
        lastCompletedAt: start?.lastCompletedAt,
      });
      let skippedParents = 0;
      for (let i = from; i < values.length; i++) {
        const value = values[i] as string;
        const resumeCursor = i === from && resumeParent === value && start?.cursor ? start.cursor : undefined;
        const pageOptions = defined<PageOptions>({
          limit: options.pageSize,
          cursor: resumeCursor,
          signal: abort.signal,
        });
        const isLastParent = i === values.length - 1;
        // Many child records do not name their parent (a note has no candidateId): the sink stores it.
        const pageParent: PageParent | undefined =
          parent.kind === 'stream' ? { field: parent.param, value } : undefined;
        const pages = client.pages(stream.endpoint, { ...body, [parent.param]: value }, pageOptions);
        try {
          for await (const page of readAhead(pages)) {
            if (abort.signal.aborted) throw new AbortedError('aborted');
            pagesCommitted++;
            const more = page.moreDataAvailable && page.nextCursor !== undefined;
            const extra: Record<string, unknown> = more
              ? { ...baseExtra, parentCurrent: value }
              : { ...baseExtra, parentDone: value, ...(isLastParent ? { pendingFinish: true } : {}) };
            const state = defined<StreamState>({
              ...common(),
              cursor: more ? page.nextCursor : undefined,
              extra,
            });
            last = await commit(page.results, state, new Set(), pageParent);
          }
        } catch (error) {
          // The parent was deleted (or hidden) since its table was read: it has no children to store, and
          // the rows stored under it are soft-deleted when this pass completes.
          if (!(error instanceof AshbyNotFoundError)) throw error;
          skippedParents++;
        }
      }
      if (skippedParents > 0)
        reasons.push(
          `${skippedParents} ${parent.kind === 'stream' ? parent.stream : parent.param} no longer found`,
        );
      if (values.length === 0) {
        last = defined<StreamState>({ ...common(), extra: { ...baseExtra, pendingFinish: true } });
        await sink.saveState(stream.name, last);
      }
      await finishFull(last);
    };

    const pass = async (kind: PassMode, start: StreamState | undefined, resume: boolean) => {
      mode = kind;
      emit({
        type: 'stream-start',
        stream: stream.name,
        endpoint: stream.endpoint,
        mode: kind,
        reason: reasons.join('; '),
      });
      if (stream.parent) await childPass(start, resume);
      else await listPass(kind, start, resume);
    };

    try {
      let state = await sink.getState(stream.name);
      firstSync = state === undefined;
      if (state?.extra?.pendingFinish === true && state.passId) {
        // The last run read every page but stopped before applying deletes: apply them now.
        await finishFull(state);
        reasons.push('finished the interrupted full pass');
        state = await sink.getState(stream.name);
      }

      let kind: PassMode;
      let resume = false;
      const inProgress = state?.passId !== undefined && state.cursor !== undefined;
      const childInProgress =
        stream.parent !== undefined &&
        state?.passId !== undefined &&
        (state.extra?.parentDone !== undefined || state.extra?.parentCurrent !== undefined);
      if (options.fullRefresh) {
        kind = 'full';
        reasons.push('--full-refresh');
      } else if (inProgress || childInProgress) {
        kind = state?.passKind ?? 'full';
        resume = true;
        reasons.push(`resumed the interrupted ${kind} pass after page ${state?.pagesCommitted ?? 0}`);
      } else if (!stream.incremental) {
        kind = 'full';
        reasons.push(stream.parent ? 'child stream: read per parent' : 'endpoint has no sync token');
      } else if (!state?.syncToken) {
        kind = 'full';
        reasons.push(state?.lastCompletedAt ? 'no sync token stored' : 'first sync');
      } else if (
        reconcileAfterMs !== null &&
        (!state.lastFullPassCompletedAt ||
          now().getTime() - Date.parse(state.lastFullPassCompletedAt) >= reconcileAfterMs)
      ) {
        kind = 'full';
        const age = state.lastFullPassCompletedAt
          ? formatDuration(now().getTime() - Date.parse(state.lastFullPassCompletedAt))
          : 'never';
        reasons.push(`reconcile: last full pass ${age === 'never' ? 'never ran' : `${age} ago`}`);
      } else {
        kind = 'incremental';
        reasons.push('changes since the last sync');
      }

      let restarts = 0;
      for (;;) {
        try {
          await pass(kind, state, resume);
          break;
        } catch (error) {
          if (abort.signal.aborted) throw error;
          if (kind === 'incremental' && isSyncTokenError(error)) {
            const code = error instanceof AshbyError ? error.code : undefined;
            reasons.push(`${code ?? 'sync token rejected'}: token discarded, full pass`);
            emit({
              type: 'warning',
              stream: stream.name,
              message: `${code}: sync token discarded, full pass`,
            });
            const { syncToken: _dropped, cursor: _cursor, ...rest } = state ?? {};
            state = defined<StreamState>({ ...rest, passId: undefined, pagesCommitted: undefined });
            await sink.saveState(stream.name, state);
            kind = 'full';
            resume = false;
            continue;
          }
          if (isCursorError(error) && restarts < MAX_PASS_RESTARTS) {
            restarts++;
            const code = error instanceof AshbyError ? error.code : undefined;
            reasons.push(`${code ?? 'cursor rejected'}: pass restarted`);
            emit({ type: 'warning', stream: stream.name, message: `${code}: ${kind} pass restarted` });
            state = await sink.getState(stream.name);
            resume = false;
            continue;
          }
          throw error;
        }
      }
      return finish('ok');
    } catch (error) {
      if (error instanceof AshbyAuthError) {
        fatal = errorInfo(error);
        abort.abort();
        reasons.push('authentication failed');
        return finish('failed', errorInfo(error));
      }
      if (abort.signal.aborted || error instanceof AbortedError) {
        reasons.push('run stopped');
        return finish('aborted');
      }
      if (isPermissionError(error)) {
        const message = `skipped: the API key lacks ${stream.permission} (${stream.scope}), needed by ${stream.endpoint}`;
        reasons.push(message);
        emit({ type: 'warning', stream: stream.name, message });
        logger.warn('stream skipped', {
          stream: stream.name,
          scope: stream.scope,
          module: stream.permission,
        });
        return finish(
          'skipped',
          defined<NonNullable<StreamResult['error']>>({
            ...errorInfo(error),
            message,
            scope: stream.scope,
            module: stream.permission,
          }),
        );
      }
      const info = errorInfo(error);
      logger.error('stream failed', { stream: stream.name, ...info });
      reasons.push('failed');
      return finish('failed', info);
    }
  };

  for (const stream of order) done.set(stream.name, runOne(stream));
  const results = await Promise.all(order.map((s) => done.get(s.name) as Promise<StreamResult>));
  options.signal?.removeEventListener('abort', onOuterAbort);

  const finished = Date.now();
  const totals = {
    records: 0,
    inserted: 0,
    updated: 0,
    deleted: 0,
    requests: 0,
    retries: 0,
    rateLimited: 0,
  };
  for (const r of results) {
    totals.records += r.records;
    totals.inserted += r.inserted;
    totals.updated += r.updated;
    totals.deleted += r.deleted;
    totals.requests += r.requests;
    totals.retries += r.retries;
    totals.rateLimited += r.rateLimited;
  }
  const exitCode: SyncSummary['exitCode'] =
    fatal || options.signal?.aborted ? 1 : results.some((r) => r.status !== 'ok') ? 3 : 0;
  return defined<SyncSummary>({
    target: sink.location,
    startedAt,
    finishedAt: new Date(finished).toISOString(),
    durationMs: finished - started,
    exitCode,
    streams: results,
    totals,
    fatal,
  });
}
