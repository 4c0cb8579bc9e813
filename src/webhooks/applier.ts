/**
 * Applies the inbox to the target: in batches, oldest first, through the sink's own record-writing path
 * (the rows equal what a sync writes), never touching the streams' sync state. Idempotent: an event applied
 * twice (a crash between the write and its settlement) writes the same rows.
 */
import { findEndpoint } from '../ashby/catalogue.js';
import { AshbyNotFoundError } from '../ashby/errors.js';
import { pageRequestBody } from '../ashby/paginate.js';
import type { PiiTransformer } from '../privacy/index.js';
import { type CandidatePurge, PURGE_REASON, type PurgeReason } from '../privacy/purge.js';
import type { Sink, StoredRecord, StreamShape } from '../sinks/index.js';
import { findStream } from '../streams/index.js';
import { shapeOf } from '../sync/context.js';
import { defined } from '../util/defined.js';
import type { Logger } from '../util/logger.js';
import { redact } from '../util/redact.js';
import { ACTIONS, type ApplyStep, type RereadInfoStep, type RereadListStep } from './actions.js';
import type { Inbox, InboxEvent, Settlement } from './inbox.js';

/** The one client call the applier makes (`.info` re-reads, and list re-reads page by page). */
export interface InfoCaller {
  call<T = unknown>(
    endpoint: string,
    body?: Record<string, unknown>,
  ): Promise<{ results: T; moreDataAvailable?: boolean; nextCursor?: string }>;
}

/** Options of {@link WebhookApplier}. */
export interface ApplierOptions {
  inbox: Inbox;
  sink: Sink;
  /** Re-reads records where a payload does not carry them (a merge). */
  client: InfoCaller;
  /**
   * The PII policy every record goes through before it is written, re-read ones included (events stored
   * transformed by the receiver come out the same: the policy's actions are idempotent).
   * @default none
   */
  pii?: PiiTransformer;
  /**
   * `--on-delete purge`: candidates a `candidateDelete` deletes, and the deleted side of a `candidateMerge`,
   * are erased after their soft delete is written (`candidatePurger(target)`); a failed purge retries the
   * events.
   * @default none: the rows stay soft-deleted
   */
  purge?: CandidatePurge;
  logger?: Logger;
  /**
   * Failed applies of one event before it is parked (kept, shown, no longer retried).
   * @default 8
   * @example 3
   */
  maxAttempts?: number;
  /**
   * First retry delay; each further failure doubles it, up to {@link ApplierOptions.maxRetryMs}.
   * @default 1000
   * @example 50
   */
  retryBaseMs?: number;
  /**
   * Longest retry delay.
   * @default 300_000 (5 minutes)
   */
  maxRetryMs?: number;
  /**
   * Events taken from the inbox per batch (one sink transaction per stream and batch).
   * @default 500
   */
  batchSize?: number;
  /**
   * How often a started applier looks for events due for a retry.
   * @default 1000
   */
  pollMs?: number;
  /**
   * How long a run waits after being asked for, gathering the events that arrive meanwhile into its batch.
   * @default 20
   */
  gatherMs?: number;
  /** The clock (tests). @default () => new Date() */
  now?: () => Date;
  /**
   * Called with the action ids of each batch's applied events, once settled (statistics, benchmarks).
   * @example (ids) => metrics.applied(ids.length)
   */
  onApplied?: (actionIds: string[]) => void;
  /**
   * Called with every event of each batch once settled: applied, parked or left for a retry, with when it
   * was received (metrics: outcomes and the event-to-row lag).
   * @example (events, at) => metrics.settled(events, at)
   */
  onSettled?: (events: SettledEvent[], settledAt: Date) => void;
}

/** An event as {@link ApplierOptions.onSettled} reports it. */
export interface SettledEvent {
  actionId: string;
  action: string;
  outcome: Settlement['outcome'];
  /** When the receiver stored it (ISO 8601). */
  receivedAt: string;
}

/**
 * What a batch leaves of a record. `current`: read from Ashby while applying, so it is the record as it
 * is now and replaces whatever is stored (a deleted row included: a posting published again).
 */
type Final =
  | {
      kind: 'upsert';
      record: Record<string, unknown>;
      events: Set<string>;
      ambiguous: boolean;
      current: boolean;
    }
  | { kind: 'delete'; mergedInto?: string; events: Set<string> };

/** A record's `updatedAt` when it has one (ISO strings compare as text). */
function updatedAtOf(record: Record<string, unknown>): string | undefined {
  return typeof record.updatedAt === 'string' ? record.updatedAt : undefined;
}

/** Whether `record` is older than `stored` (an update delivered after a newer one). */
function isOlder(record: Record<string, unknown>, stored: Record<string, unknown>): boolean {
  const a = updatedAtOf(record);
  const b = updatedAtOf(stored);
  return a !== undefined && b !== undefined && a < b;
}

/**
 * The `.info` endpoint and request of each stream whose events carry records: two different versions with
 * the same `updatedAt` (changes within one millisecond) are told apart by asking Ashby for the current one.
 */
const INFO: Readonly<Record<string, (id: string) => [string, Record<string, unknown>]>> = {
  applications: (id) => ['application.info', { applicationId: id }],
  candidates: (id) => ['candidate.info', { id }],
  jobs: (id) => ['job.info', { id, includeUnpublishedJobPostingsIds: true }],
  offers: (id) => ['offer.info', { offerId: id }],
  openings: (id) => ['opening.info', { openingId: id }],
};

/** Same `updatedAt`, different content: which one is newer cannot be told from the records. */
function isTie(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const ua = updatedAtOf(a);
  return ua !== undefined && ua === updatedAtOf(b) && JSON.stringify(a) !== JSON.stringify(b);
}

/** Short reason of a failure, for the inbox and people; never the key. */
function reasonOf(error: unknown): string {
  return redact(error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 500);
}

/** Takes pending events from the inbox and writes them into the target. */
export class WebhookApplier {
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly maxRetryMs: number;
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly gatherMs: number;
  private readonly now: () => Date;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;

  constructor(private readonly options: ApplierOptions) {
    this.maxAttempts = options.maxAttempts ?? 8;
    this.retryBaseMs = options.retryBaseMs ?? 1000;
    this.maxRetryMs = options.maxRetryMs ?? 300_000;
    this.batchSize = options.batchSize ?? 500;
    this.pollMs = options.pollMs ?? 1000;
    this.gatherMs = options.gatherMs ?? 20;
    this.now = options.now ?? (() => new Date());
  }

  /** Applies events as they arrive ({@link WebhookApplier.kick}) and retries failed ones when due. */
  start(): void {
    this.stopped = false;
    const tick = () => {
      if (this.stopped) return;
      this.kick();
      this.timer = setTimeout(tick, this.pollMs);
      this.timer.unref();
    };
    tick();
  }

  /**
   * Asks for a run (a new event was stored); runs never overlap. The run starts a few milliseconds later,
   * so events arriving together are applied in one batch (one sink transaction per stream) instead of
   * one by one.
   */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      await new Promise((resolve) => setTimeout(resolve, this.gatherMs));
      try {
        do {
          this.again = false;
          while ((await this.applyDue()) > 0 && !this.stopped) {}
        } while (this.again && !this.stopped);
      } catch (error) {
        this.options.logger?.error('webhook apply failed', { error: reasonOf(error) });
      } finally {
        this.running = undefined;
      }
    })();
  }

  /** Stops the timer and waits for the run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Applies every event due now, batch after batch; returns how many events were settled. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.applyDue();
      if (n === 0) return total;
      total += n;
    }
  }

  /** Applies one batch of due events; returns how many were settled. */
  async applyDue(): Promise<number> {
    const events = await this.options.inbox.due(this.now().toISOString(), this.batchSize);
    if (events.length === 0) return 0;
    const settlements = await this.applyBatch(events);
    const settledAt = this.now();
    await this.options.inbox.settle(settlements, settledAt.toISOString());
    this.options.onApplied?.(settlements.filter((s) => s.outcome === 'applied').map((s) => s.actionId));
    if (this.options.onSettled) {
      const byId = new Map(events.map((e) => [e.actionId, e]));
      this.options.onSettled(
        settlements.flatMap((s) => {
          const e = byId.get(s.actionId);
          return e
            ? [{ actionId: s.actionId, action: e.action, outcome: s.outcome, receivedAt: e.receivedAt }]
            : [];
        }),
        settledAt,
      );
    }
    return settlements.length;
  }

  private async applyBatch(events: readonly InboxEvent[]): Promise<Settlement[]> {
    const failed = new Map<string, string>();
    const parked = new Map<string, string>();
    const finals = new Map<string, Map<string, Final>>();
    const finalOf = (stream: string) => {
      const m = finals.get(stream) ?? new Map<string, Final>();
      finals.set(stream, m);
      return m;
    };
    const pii = this.options.pii;
    const upsert: Upsert = (stream, read, actionId, current = false) => {
      const record = pii ? pii.record(stream, read) : read;
      const id = record.id;
      if (typeof id !== 'string') return;
      const m = finalOf(stream);
      const prev = m.get(id);
      if (!current && prev?.kind === 'delete') {
        prev.events.add(actionId);
        return;
      }
      if (!current && prev?.kind === 'upsert' && isOlder(record, prev.record)) {
        prev.events.add(actionId);
        return;
      }
      const ambiguous = !current && prev?.kind === 'upsert' && (prev.ambiguous || isTie(record, prev.record));
      m.set(id, {
        kind: 'upsert',
        record,
        ambiguous,
        current: current || (ambiguous && prev?.kind === 'upsert' && prev.current),
        events: new Set([...(prev?.events ?? []), actionId]),
      });
    };
    const remove: Remove = (stream, id, actionId, mergedInto) => {
      const m = finalOf(stream);
      const prev = m.get(id);
      const merged = mergedInto ?? (prev?.kind === 'delete' ? prev.mergedInto : undefined);
      m.set(id, {
        kind: 'delete',
        ...defined({ mergedInto: merged }),
        events: new Set([...(prev?.events ?? []), actionId]),
      });
    };
    // One read of a list per batch, however many events ask for it.
    const lists = new Map<string, Promise<Record<string, unknown>[]>>();
    for (const event of events) {
      let steps: ApplyStep[];
      try {
        const payload = JSON.parse(event.body) as { data?: unknown };
        const data =
          payload.data !== null && typeof payload.data === 'object' && !Array.isArray(payload.data)
            ? (payload.data as Record<string, unknown>)
            : {};
        steps = ACTIONS[event.action]?.(data) ?? [];
      } catch (error) {
        parked.set(event.actionId, `unreadable body: ${reasonOf(error)}`);
        continue;
      }
      try {
        for (const step of steps) {
          if (step.type === 'upsert') upsert(step.stream, step.record, event.actionId);
          else if (step.type === 'delete') remove(step.stream, step.id, event.actionId, step.mergedInto);
          else if (step.type === 'reread-list')
            await this.rereadList(step, event.actionId, lists, upsert, remove);
          else if (step.type === 'reread-info') await this.rereadInfo(step, event.actionId, upsert);
          else await this.rereadCandidate(step.id, event.actionId, upsert, remove);
        }
      } catch (error) {
        failed.set(event.actionId, reasonOf(error));
      }
    }
    // An event that failed contributes nothing: its steps are dropped and redone on its retry.
    for (const m of finals.values()) {
      for (const [id, f] of m) {
        if ([...f.events].some((a) => failed.has(a) || parked.has(a))) {
          const rest = [...f.events].filter((a) => !failed.has(a) && !parked.has(a));
          if (rest.length === 0) m.delete(id);
          else for (const a of rest) failed.set(a, 'applied together with an event that failed');
        }
      }
    }
    for (const [stream, m] of finals) {
      try {
        await this.flush(stream, m);
      } catch (error) {
        const reason = reasonOf(error);
        for (const f of m.values()) for (const a of f.events) failed.set(a, reason);
      }
    }
    await this.purgeDeleted(finals.get('candidates'), failed);
    const now = this.now().getTime();
    return events.map((e): Settlement => {
      const parkReason = parked.get(e.actionId);
      if (parkReason !== undefined) return { actionId: e.actionId, outcome: 'parked', error: parkReason };
      const error = failed.get(e.actionId);
      if (error === undefined) return { actionId: e.actionId, outcome: 'applied' };
      if (e.attempts + 1 >= this.maxAttempts) return { actionId: e.actionId, outcome: 'parked', error };
      const delay = Math.min(this.maxRetryMs, this.retryBaseMs * 2 ** e.attempts);
      this.options.logger?.warn('webhook event will be retried', { action: e.action, error, delayMs: delay });
      return { actionId: e.actionId, outcome: 'retry', error, retryAt: new Date(now + delay).toISOString() };
    });
  }

  /** `onDelete: purge`: the candidates this batch deleted are erased; a failure retries their events. */
  private async purgeDeleted(
    finals: Map<string, Final> | undefined,
    failed: Map<string, string>,
  ): Promise<void> {
    const purge = this.options.purge;
    if (!purge || !finals) return;
    const byReason = new Map<PurgeReason, { ids: string[]; events: string[] }>();
    for (const [id, f] of finals) {
      if (f.kind !== 'delete' || [...f.events].some((a) => failed.has(a))) continue;
      const reason: PurgeReason = f.mergedInto !== undefined ? PURGE_REASON.merged : PURGE_REASON.deleted;
      const group = byReason.get(reason) ?? { ids: [], events: [] };
      group.ids.push(id);
      group.events.push(...f.events);
      byReason.set(reason, group);
    }
    for (const [reason, group] of byReason) {
      try {
        await purge(group.ids, reason);
      } catch (error) {
        for (const a of group.events) failed.set(a, `purge failed: ${reasonOf(error)}`);
      }
    }
  }

  /** Every record of the stream's list endpoint with `filter`, all pages, in the stream's own request. */
  private async listAll(stream: string, filter: Record<string, unknown>): Promise<Record<string, unknown>[]> {
    const def = findStream(stream);
    if (!def) throw new Error(`unknown stream ${stream}`);
    const spec = findEndpoint(def.endpoint);
    const body = { ...(def.body?.({ includeArchived: false }) ?? {}), ...filter };
    const out: Record<string, unknown>[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (;;) {
      const page = await this.options.client.call<Record<string, unknown>[]>(
        def.endpoint,
        pageRequestBody(spec, body, { cursor }),
      );
      if (!Array.isArray(page.results)) throw new Error(`${def.endpoint} answered no list`);
      out.push(...page.results);
      const next = page.nextCursor;
      if (page.moreDataAvailable !== true || next === undefined || seen.has(next)) return out;
      seen.add(next);
      cursor = next;
    }
  }

  /** Records re-read through their stream's list: upserted as listed, or soft-deleted when not listed. */
  private async rereadList(
    step: RereadListStep,
    actionId: string,
    lists: Map<string, Promise<Record<string, unknown>[]>>,
    upsert: Upsert,
    remove: Remove,
  ): Promise<void> {
    const key = `${step.stream}:${JSON.stringify(step.filter)}`;
    let reading = lists.get(key);
    if (!reading) {
      reading = this.listAll(step.stream, step.filter);
      lists.set(key, reading);
      // A failed read fails every event that asked for it; none of them is left with an unhandled promise.
      reading.catch(() => undefined);
    }
    const listed = await reading;
    if (step.ids === undefined) {
      for (const record of listed) upsert(step.stream, record, actionId, true);
      return;
    }
    const byId = new Map(listed.map((r) => [r.id, r]));
    for (const id of step.ids) {
      const record = byId.get(id);
      if (record) upsert(step.stream, record, actionId, true);
      else remove(step.stream, id, actionId);
    }
  }

  /** A record re-read with its `.info` endpoint, in the shape of the stored row. */
  private async rereadInfo(step: RereadInfoStep, actionId: string, upsert: Upsert): Promise<void> {
    const info = INFO[step.stream];
    if (!info) throw new Error(`no .info endpoint for stream ${step.stream}`);
    const [endpoint, body] = info(step.id);
    let record: Record<string, unknown>;
    try {
      record = (await this.options.client.call<Record<string, unknown>>(endpoint, body)).results;
    } catch (error) {
      // Gone since: its own events (or the next full sync) take care of the row.
      if (error instanceof AshbyNotFoundError) return;
      throw error;
    }
    const stored = await this.options.sink.readStored(shapeFor(step.stream), [step.id]);
    upsert(step.stream, listShaped(record, stored.get(step.id)), actionId, true);
  }

  /** The merged candidate and its applications, as `.info` returns them now. */
  private async rereadCandidate(id: string, actionId: string, upsert: Upsert, remove: Remove): Promise<void> {
    const { client } = this.options;
    let candidate: Record<string, unknown>;
    try {
      candidate = (await client.call<Record<string, unknown>>('candidate.info', { id })).results;
    } catch (error) {
      if (error instanceof AshbyNotFoundError) {
        remove('candidates', id, actionId);
        return;
      }
      throw error;
    }
    upsert('candidates', candidate, actionId);
    const appIds = Array.isArray(candidate.applicationIds)
      ? candidate.applicationIds.filter((a): a is string => typeof a === 'string')
      : [];
    const apps = shapeFor('applications');
    const stored = await this.options.sink.readStored(apps, appIds);
    for (const appId of appIds) {
      const app = (await client.call<Record<string, unknown>>('application.info', { applicationId: appId }))
        .results;
      upsert('applications', listShaped(app, stored.get(appId)), actionId);
    }
  }

  private async flush(stream: string, finals: Map<string, Final>): Promise<void> {
    const { sink } = this.options;
    const shape = shapeFor(stream);
    let lock: Awaited<ReturnType<Sink['lock']>> | undefined;
    if (sink.kind === 'jsonl') {
      // A JSONL stream file takes one writer at a time: a running sync keeps these events pending.
      lock = await sink.lock(stream, 'ashpipe webhooks');
      if (!lock.acquired) throw new Error(`stream ${stream} is being written by another run`);
    }
    try {
      const upserts = [...finals].filter(
        (e): e is [string, Extract<Final, { kind: 'upsert' }>] => e[1].kind === 'upsert',
      );
      const stored = await sink.readStored(
        shape,
        upserts.map(([id]) => id),
      );
      // Never back: a deleted row stays deleted, an older version never replaces a newer one.
      const records: Record<string, unknown>[] = [];
      for (const [id, f] of upserts) {
        const s = stored.get(id);
        if (!f.current && s && (s.deleted || isOlder(f.record, s.record))) continue;
        const info = INFO[stream];
        if (info && (f.ambiguous || (!f.current && s && isTie(f.record, s.record)))) {
          const [endpoint, body] = info(id);
          let current: Record<string, unknown>;
          try {
            current = (await this.options.client.call<Record<string, unknown>>(endpoint, body)).results;
          } catch (error) {
            // Gone since: its delete event (or the next full sync) takes care of the row.
            if (error instanceof AshbyNotFoundError) continue;
            throw error;
          }
          const shaped = listShaped(current, { record: f.record, deleted: false });
          records.push(this.options.pii ? this.options.pii.record(stream, shaped) : shaped);
        } else records.push(f.record);
      }
      if (records.length > 0) await sink.upsertPage(shape, records, {}, { keepState: true });
      const byMerge = new Map<string | undefined, string[]>();
      for (const [id, f] of finals) {
        if (f.kind !== 'delete') continue;
        const list = byMerge.get(f.mergedInto) ?? [];
        list.push(id);
        byMerge.set(f.mergedInto, list);
      }
      for (const [mergedInto, ids] of byMerge) {
        await sink.markDeleted(shape, ids, mergedInto !== undefined ? { mergedInto } : {});
      }
    } finally {
      if (lock?.acquired) await lock.lock.release();
    }
  }
}

type Upsert = (stream: string, record: Record<string, unknown>, actionId: string, current?: boolean) => void;
type Remove = (stream: string, id: string, actionId: string, mergedInto?: string) => void;

function shapeFor(stream: string): StreamShape {
  const s = findStream(stream);
  if (!s) throw new Error(`unknown stream ${stream}`);
  return shapeOf(s);
}

/**
 * `.info` may return fields its list endpoint does not (`application.info` adds the history): a field the
 * list-shaped reference (the stored row, or the event's record) lacks is left out, so the row stays what
 * the next sync writes.
 */
function listShaped(
  record: Record<string, unknown>,
  stored: StoredRecord | undefined,
): Record<string, unknown> {
  if (!stored) return record;
  return Object.fromEntries(Object.entries(record).filter(([k]) => Object.hasOwn(stored.record, k)));
}
