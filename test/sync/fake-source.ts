import type { AshbyPage, PageOptions } from '../../src/ashby/index.js';
import type { PageSource } from '../../src/sync/index.js';

export interface FakeCall {
  endpoint: string;
  body: Record<string, unknown>;
  cursor: string | undefined;
  syncToken: string | undefined;
}

type Rec = Record<string, unknown>;

/**
 * An in-memory list API with cursors and sync tokens over a change log, for engine tests that need exact
 * control over failures. The loopback sandbox covers the real HTTP path.
 */
export class FakeSource implements PageSource {
  private readonly tables = new Map<string, Rec[]>();
  private readonly changedAt = new Map<string, Map<string, number>>();
  private version = 0;
  readonly calls: FakeCall[] = [];
  /** Returns an error to throw for a call, or undefined to answer it. */
  fail: ((call: FakeCall) => Error | undefined) | undefined;
  /** Body fields that filter the records (e.g. `interviewPlanId` for interviewStage.list). */
  readonly filters = new Map<string, string>();

  constructor(readonly pageSize = 2) {}

  set(endpoint: string, records: Rec[]): void {
    this.tables.set(
      endpoint,
      records.map((r) => ({ ...r })),
    );
    const map = new Map<string, number>();
    this.version++;
    for (const r of records) map.set(String(r.id), this.version);
    this.changedAt.set(endpoint, map);
  }

  upsert(endpoint: string, record: Rec): void {
    const list = this.tables.get(endpoint) ?? [];
    const i = list.findIndex((r) => r.id === record.id);
    if (i >= 0) list[i] = { ...record };
    else list.push({ ...record });
    this.tables.set(endpoint, list);
    this.changedAt.get(endpoint)?.set(String(record.id), ++this.version);
  }

  remove(endpoint: string, id: string): void {
    this.tables.set(
      endpoint,
      (this.tables.get(endpoint) ?? []).filter((r) => r.id !== id),
    );
  }

  records(endpoint: string): Rec[] {
    return this.tables.get(endpoint) ?? [];
  }

  async *pages<T = unknown>(
    endpoint: string,
    body: Record<string, unknown> = {},
    options: PageOptions = {},
  ): AsyncIterableIterator<AshbyPage<T>> {
    let cursor = options.cursor;
    let pageNumber = 0;
    for (;;) {
      const call: FakeCall = { endpoint, body, cursor, syncToken: options.syncToken };
      this.calls.push(call);
      const error = this.fail?.(call);
      if (error) throw error;
      const since = options.syncToken ? Number(options.syncToken.slice(1)) : 0;
      const filter = this.filters.get(endpoint);
      const changed = this.changedAt.get(endpoint);
      const all = (this.tables.get(endpoint) ?? []).filter(
        (r) =>
          (filter === undefined || r[filter] === body[filter]) && (changed?.get(String(r.id)) ?? 0) > since,
      );
      const offset = cursor ? Number(cursor) : 0;
      const results = all.slice(offset, offset + this.pageSize);
      const next = offset + this.pageSize;
      const more = next < all.length;
      pageNumber++;
      yield {
        results: results as T[],
        cursor,
        nextCursor: more ? String(next) : undefined,
        moreDataAvailable: more,
        syncToken: more ? undefined : `v${this.version}`,
        warnings: [],
        pageNumber,
      };
      if (!more) return;
      cursor = String(next);
    }
  }
}
