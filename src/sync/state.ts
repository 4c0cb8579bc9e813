/**
 * A stream's sync state as a typed reducer: every change the engine makes to it is one event, applied by
 * {@link nextState}, a pure function. What gets stored after a page, after a pass, after a rejected token
 * is decided here and nowhere else.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { StreamState } from '../sinks/index.js';
import type { PassMode } from './types.js';

/**
 * The state a pass starts from: the checkpoint it resumes, or a new pass (a fresh id, its progress from
 * nothing) on top of what the stream keeps across passes.
 */
export function passStartState(
  start: StreamState | undefined,
  resume: boolean,
  mode: PassMode,
  at: string,
): StreamState {
  return resume && start
    ? start
    : nextState(start ?? {}, { type: 'pass-started', passId: randomUUID(), mode, at });
}

/** What happened to a stream, as far as its state is concerned. */
export type StateEvent =
  /** A new pass begins (not a resumed one): its progress starts from nothing. */
  | { type: 'pass-started'; passId: string; mode: PassMode; at: string }
  /** A page of a top-level list was read and is about to be committed with the state this returns. */
  | { type: 'list-page'; nextCursor: string | undefined; syncToken: string | undefined; at: string }
  /** A page of a child stream's list for one parent was read. */
  | { type: 'child-page'; parent: string; nextCursor: string | undefined; lastParent: boolean }
  /** A child stream's parent table is empty: the pass is complete without a page. */
  | { type: 'no-parents' }
  /** The stream's confidential ids changed (`--exclude-confidential`). */
  | { type: 'confidential-ids'; ids: readonly string[] }
  /** The full pass's deletes are applied: the pass is complete. */
  | { type: 'pass-finished'; at: string }
  /** Ashby refused the sync token: it is dropped, with the pass in progress. */
  | { type: 'token-discarded' }
  /** An incremental changed-parents pass read every changed parent: the next starts after `watermark`. */
  | { type: 'changed-parents-finished'; at: string; watermark: { at: string; ids: string[] } };

/** Copies `state` without its `undefined` members (the state is JSON and fits `exactOptionalPropertyTypes`). */
function clean(state: { [K in keyof StreamState]?: StreamState[K] | undefined }): StreamState {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(state)) if (value !== undefined) out[key] = value;
  return out as StreamState;
}

/** The state after `event`. Pure: the same state and event always give the same state. */
export function nextState(state: StreamState, event: StateEvent): StreamState {
  switch (event.type) {
    case 'pass-started':
      return clean({
        // An incremental pass reads from the stored token; a full pass reads without one.
        syncToken: event.mode === 'incremental' ? state.syncToken : undefined,
        passId: event.passId,
        passKind: event.mode,
        passStartedAt: event.at,
        pagesCommitted: 0,
        lastFullPassCompletedAt: state.lastFullPassCompletedAt,
        lastCompletedAt: state.lastCompletedAt,
        confidentialIds: state.confidentialIds,
        parentsChangedAfter: state.parentsChangedAfter,
        piiPolicy: state.piiPolicy,
      });
    case 'list-page':
      return listPage(state, event);
    case 'child-page': {
      const pagesCommitted = (state.pagesCommitted ?? 0) + 1;
      if (event.nextCursor !== undefined) {
        return clean({
          ...state,
          pagesCommitted,
          cursor: event.nextCursor,
          parentCurrent: event.parent,
          parentDone: undefined,
        });
      }
      return clean({
        ...state,
        pagesCommitted,
        cursor: undefined,
        parentCurrent: undefined,
        parentDone: event.parent,
        pendingFinish: event.lastParent ? true : undefined,
      });
    }
    case 'no-parents':
      return clean({ ...state, cursor: undefined, parentCurrent: undefined, pendingFinish: true });
    case 'confidential-ids':
      return { ...state, confidentialIds: [...event.ids] };
    case 'pass-finished':
      return clean({
        syncToken: state.pendingSyncToken,
        passId: state.passId,
        passKind: 'full',
        passStartedAt: state.passStartedAt,
        pagesCommitted: state.pagesCommitted,
        lastFullPassCompletedAt: event.at,
        lastCompletedAt: event.at,
        confidentialIds: state.confidentialIds,
        parentsChangedAfter: state.parentsChangedAfter,
        piiPolicy: state.piiPolicy,
      });
    case 'changed-parents-finished':
      return clean({
        ...state,
        cursor: undefined,
        parentCurrent: undefined,
        parentDone: undefined,
        lastCompletedAt: event.at,
        parentsChangedAfter: event.watermark,
      });
    case 'token-discarded':
      return clean({
        ...state,
        syncToken: undefined,
        cursor: undefined,
        passId: undefined,
        pagesCommitted: undefined,
      });
  }
}

function listPage(state: StreamState, event: Extract<StateEvent, { type: 'list-page' }>): StreamState {
  const pagesCommitted = (state.pagesCommitted ?? 0) + 1;
  if (event.nextCursor !== undefined) return clean({ ...state, pagesCommitted, cursor: event.nextCursor });
  if (state.passKind === 'incremental') {
    return clean({
      ...state,
      pagesCommitted,
      cursor: undefined,
      syncToken: event.syncToken ?? state.syncToken,
      lastCompletedAt: event.at,
    });
  }
  // Every page is read but the deletes are not applied yet: a crash here finishes the pass on the next run.
  return clean({
    ...state,
    pagesCommitted,
    cursor: undefined,
    pendingFinish: true,
    pendingSyncToken: event.syncToken,
  });
}

/** Whether a full pass read everything and only its deletes are left to apply. */
export function awaitsFinish(state: StreamState | undefined): state is StreamState & { passId: string } {
  return state?.pendingFinish === true && state.passId !== undefined;
}

const optionalString = z.string().optional().catch(undefined);

/** The stored state as this version reads it; members of the wrong type are dropped, not trusted. */
const storedState = z
  .object({
    syncToken: optionalString,
    cursor: optionalString,
    passId: optionalString,
    passKind: z.enum(['full', 'incremental']).optional().catch(undefined),
    passStartedAt: optionalString,
    pagesCommitted: z.number().int().nonnegative().optional().catch(undefined),
    lastFullPassCompletedAt: optionalString,
    lastCompletedAt: optionalString,
    pendingFinish: z.boolean().optional().catch(undefined),
    pendingSyncToken: optionalString,
    parentDone: optionalString,
    parentCurrent: optionalString,
    confidentialIds: z.array(z.string()).optional().catch(undefined),
    parentsChangedAfter: z
      .object({ at: z.string(), ids: z.array(z.string()) })
      .strip()
      .optional()
      .catch(undefined),
    piiPolicy: optionalString,
  })
  .strip();

/** Members earlier versions kept in a free-form `extra` object. */
const LEGACY_EXTRA = ['pendingFinish', 'pendingSyncToken', 'parentDone', 'parentCurrent', 'confidentialIds'];

/**
 * Reads a state as stored by any version: the members of an earlier version's `extra` object move to their
 * typed places, anything unreadable is left out (a pass then starts over: slower, never wrong).
 */
export function readState(stored: unknown): StreamState | undefined {
  if (stored === undefined || stored === null || typeof stored !== 'object') return undefined;
  const { extra, ...rest } = stored as Record<string, unknown>;
  const lifted: Record<string, unknown> = { ...rest };
  if (extra !== null && typeof extra === 'object') {
    for (const key of LEGACY_EXTRA) {
      const value = (extra as Record<string, unknown>)[key];
      if (value !== undefined && lifted[key] === undefined) lifted[key] = value;
    }
  }
  return clean(storedState.parse(lifted));
}
