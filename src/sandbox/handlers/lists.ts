/**
 * The list engine: one definition per list endpoint (its kind, filters, parent), answered as a full walk
 * over positions or an incremental walk over the change log, paged by opaque cursors.
 */
import { findEndpoint } from '../../ashby/catalogue.js';
import type { CursorState } from '../codec.js';
import type { Handler, RequestContext, Success } from '../context.js';
import { ApiError, invalidInput, notFound } from '../errors.js';
import type { Kind } from '../ids.js';
import { visible } from '../world/confidential.js';
import type { Rec } from '../world/store.js';

/** Ashby: "The maximum and default value is 100." (SPEC-2024 list request schema, `limit`). */
const MAX_LIMIT = 100;
/** How long a cursor stays valid; Ashby does not publish its value. */
const CURSOR_TTL_MS = 60 * 60 * 1000;
/** Positions scanned per page at most, so that a page never costs more than a bounded amount of work. */
const SCAN_BUDGET = 10_000;
/** When this few positions remain, look ahead so that a walk does not end on an empty page. */
const PEEK = 200;

/** Positions of a child list (records under one parent), or `undefined` for a top-level list. */
interface ChildSource {
  ids: readonly string[];
}

/** How one list endpoint reads. */
interface ListDef {
  kind: Kind;
  /** Restricts the walk to the children of one parent (required parameter such as `candidateId`). */
  children?: (ctx: RequestContext) => ChildSource;
  /** Request filters (`status`, `includeArchived`, `createdAfter`…). */
  filter?: (rec: Rec, ctx: RequestContext) => boolean;
  /** Checks the request before any record is read (required parameters such as `surveyType`). */
  validate?: (ctx: RequestContext) => void;
  /** Shapes each returned record for the request (e.g. `expand: ["openings"]`). */
  map?: (rec: Rec, ctx: RequestContext) => Rec;
  /**
   * Pages the list (`limit`, `cursor`, `moreDataAvailable`, `nextCursor`) although the 2024 contract in the
   * catalogue does not: the 2026 spec or the reference connectors page it, so a client must follow.
   */
  paged?: true;
}

function readLimit(body: Record<string, unknown>): number {
  const v = body.limit;
  if (v === undefined || v === null) return MAX_LIMIT;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw invalidInput('"limit" must be a positive integer');
  }
  return Math.min(v, MAX_LIMIT);
}

/** Answers one list request: a full walk over positions or an incremental walk over the change log. */
export function listHandler(def: ListDef): Handler {
  return (ctx) => {
    const spec = findEndpoint(ctx.endpoint);
    const paginated = (spec?.paginated ?? false) || def.paged === true;
    const incremental = spec?.incremental ?? false;
    const { world, codec, faults, body, key } = ctx;
    def.validate?.(ctx);
    const source = def.children?.(ctx);
    const accept = (rec: Rec | undefined): rec is Rec =>
      rec !== undefined && visible(world, key, def.kind, rec) && (def.filter ? def.filter(rec, ctx) : true);
    const recordAt = (p: number): Rec | undefined => {
      if (source) {
        const id = source.ids[p];
        return id ? world.get(id) : undefined;
      }
      return world.at(def.kind, p);
    };

    if (!paginated) {
      const size = source ? source.ids.length : world.size(def.kind);
      const results: Rec[] = [];
      for (let p = 0; p < size; p++) {
        const rec = recordAt(p);
        if (accept(rec)) results.push(rec);
      }
      return {
        results: def.map ? results.map((r) => def.map?.(r, ctx) ?? r) : results,
        moreDataAvailable: false,
      };
    }

    const limit = readLimit(body);
    const now = Date.now();
    let state: CursorState;
    if (body.cursor !== undefined && body.cursor !== null) {
      const decoded = codec.readCursor(body.cursor);
      if (!decoded || decoded.e !== ctx.endpoint) {
        throw new ApiError(
          'invalid_next_cursor',
          'The cursor could not be decoded. Restart pagination without a cursor.',
        );
      }
      const after = faults.config.expireCursorAfterPages;
      if (faults.config.expireCursorOnce || decoded.x < now || (after !== null && decoded.g >= after)) {
        if (faults.config.expireCursorOnce) faults.set({ expireCursorOnce: false });
        throw new ApiError(
          'next_cursor_expired',
          'The cursor has expired. Restart pagination without a cursor.',
        );
      }
      state = decoded;
    } else if (body.syncToken !== undefined && body.syncToken !== null) {
      if (!incremental) throw invalidInput('"syncToken" is not supported by this endpoint');
      const seq = codec.readSyncToken(body.syncToken, ctx.endpoint);
      if (seq === undefined || seq > world.seq) {
        throw new ApiError(
          'sync_token_invalid',
          'The syncToken could not be decoded. Discard it and run a full sync.',
        );
      }
      if (faults.config.expireSyncTokenOnce) {
        faults.set({ expireSyncTokenOnce: false });
        throw new ApiError(
          'sync_token_expired',
          'The syncToken has expired. Discard it and run a full sync.',
        );
      }
      state = { e: ctx.endpoint, p: seq, s: world.seq, n: world.seq, g: 0, t: seq, x: now + CURSOR_TTL_MS };
      // Ashby (May 2026) refuses incremental syncs deeper than a fixed number of pages; the change set
      // is counted up front, as the log since the token is what the walk would read anyway.
      const changed = new Set<string>();
      for (let q = seq; q < world.seq; q++) {
        const c = world.log[q];
        if (c && c.kind === def.kind && c.op !== 'delete' && c.op !== 'merge') changed.add(c.id);
      }
      if (Math.ceil(changed.size / limit) > world.maxIncrementalPages) {
        throw new ApiError(
          'incremental_sync_too_large',
          `The incremental sync would span more than ${world.maxIncrementalPages} pages. Discard the syncToken and perform a full sync instead.`,
        );
      }
    } else {
      const size = source ? source.ids.length : world.size(def.kind);
      state = { e: ctx.endpoint, p: 0, s: world.seq, n: size, g: 0, x: now + CURSOR_TTL_MS };
    }

    if (state.t !== undefined) {
      const tooLarge = faults.config.incrementalTooLargeAfterPages;
      if (tooLarge !== null && state.g >= tooLarge) {
        throw new ApiError(
          'incremental_sync_too_large',
          'The incremental sync spans too many pages. Discard the syncToken and perform a full sync instead.',
        );
      }
    }

    const results: Rec[] = [];
    let p = state.p;
    let scanned = 0;
    if (state.t === undefined) {
      while (p < state.n && results.length < limit && scanned < SCAN_BUDGET) {
        const rec = recordAt(p);
        p++;
        scanned++;
        if (accept(rec)) results.push(rec);
      }
      if (p < state.n && state.n - p <= PEEK) {
        let any = false;
        for (let q = p; q < state.n && !any; q++) any = accept(recordAt(q));
        if (!any) p = state.n;
      }
    } else {
      const inChildren = source ? new Set(source.ids) : undefined;
      while (p < state.n && results.length < limit && scanned < SCAN_BUDGET) {
        const change = world.log[p];
        p++;
        scanned++;
        if (!change || change.kind !== def.kind) continue;
        if (inChildren && !inChildren.has(change.id)) continue;
        // Only the latest change of an id inside the snapshot yields the record, so each appears once.
        const seqs = world.changesOf(change.id);
        let latest = 0;
        for (const s of seqs) if (s <= state.s) latest = s;
        if (latest !== change.seq) continue;
        const rec = world.get(change.id);
        if (accept(rec)) results.push(rec);
      }
    }

    const out: Success = {
      results: def.map ? results.map((r) => def.map?.(r, ctx) ?? r) : results,
      moreDataAvailable: p < state.n,
    };
    if (p < state.n) {
      out.nextCursor = codec.cursor({ ...state, p, g: state.g + 1 });
    } else if (incremental) {
      out.syncToken = codec.syncToken(ctx.endpoint, state.s);
    }
    return out;
  };
}

// ---------------------------------------------------------------------------------------------------
// Filters shared by several lists

/** A boolean request parameter: `undefined` when absent, an `invalid_input` error when not a boolean. */
export function flag(ctx: RequestContext, name: string): boolean | undefined {
  const v = ctx.body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidInput(`"${name}" must be a boolean`);
  return v;
}

export function includeArchived(rec: Rec, ctx: RequestContext): boolean {
  return flag(ctx, 'includeArchived') === true || rec.isArchived !== true;
}

export function createdAfter(rec: Rec, ctx: RequestContext): boolean {
  const after = ctx.body.createdAfter;
  if (after === undefined || after === null) return true;
  if (typeof after !== 'number') throw invalidInput('"createdAfter" must be a number (epoch milliseconds)');
  const created = Date.parse(String(rec.createdAt ?? rec.submittedAt ?? ''));
  return Number.isNaN(created) || created > after;
}

/** A required parent id of a child list; the parent must exist and be visible to the key. */
export function parentId(ctx: RequestContext, field: string, kind: Kind): string {
  const v = ctx.body[field];
  if (typeof v !== 'string' || v === '') throw invalidInput(`Missing required field "${field}"`);
  const rec = ctx.world.get(v, kind);
  if (!rec || !visible(ctx.world, ctx.key, kind, rec)) throw notFound(kindCode(kind));
  return v;
}

/** `interviewSchedule` → `interview_schedule` as in Ashby's `*_not_found` codes. */
export function kindCode(kind: string): string {
  return kind.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Pages an in-memory list (per-parent child lists are small). */
export function paginateArray(ctx: RequestContext, items: Rec[]): Success {
  const limitRaw = ctx.body.limit;
  if (
    limitRaw !== undefined &&
    (typeof limitRaw !== 'number' || !Number.isInteger(limitRaw) || limitRaw < 1)
  ) {
    throw invalidInput('"limit" must be a positive integer');
  }
  const limit = Math.min(typeof limitRaw === 'number' ? limitRaw : 100, 100);
  let start = 0;
  if (ctx.body.cursor !== undefined && ctx.body.cursor !== null) {
    const c = ctx.codec.readCursor(ctx.body.cursor);
    if (!c || c.e !== ctx.endpoint) {
      throw new ApiError(
        'invalid_next_cursor',
        'The cursor could not be decoded. Restart pagination without a cursor.',
      );
    }
    start = c.p;
  }
  const page = items.slice(start, start + limit);
  const next = start + page.length;
  return next < items.length
    ? {
        results: page,
        moreDataAvailable: true,
        nextCursor: ctx.codec.cursor({
          e: ctx.endpoint,
          p: next,
          s: ctx.world.seq,
          n: items.length,
          g: 1,
          x: Date.now() + 3_600_000,
        }),
      }
    : { results: page, moreDataAvailable: false };
}
