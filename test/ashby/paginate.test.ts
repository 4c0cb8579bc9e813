import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AshbyClient } from '../../src/ashby/client.js';
import { AshbyCursorError, AshbyServerError } from '../../src/ashby/errors.js';
import { Limiter } from '../../src/ashby/limiter.js';
import { pageRequestBody, pageSize } from '../../src/ashby/paginate.js';
import type { AshbyPage } from '../../src/ashby/types.js';
import { type FakeAshby, fail, ok, type RecordedRequest, startFakeAshby } from '../support/fake-ashby.js';

let fake: FakeAshby;
let client: AshbyClient;
beforeEach(async () => {
  fake = await startFakeAshby();
  client = new AshbyClient({
    apiKey: 'paginate-test-key',
    baseUrl: fake.url,
    limiter: new Limiter(),
    retry: { limit: 1 },
  });
});
afterEach(async () => {
  await fake.close();
});

/** Serves `total` records in pages of the requested size with cursors "c<offset>". */
function serveList(total: number, syncToken = 'sync-after') {
  return (request: RecordedRequest) => {
    const body = (request.body ?? {}) as { limit?: number; cursor?: string };
    const offset = body.cursor ? Number(body.cursor.slice(1)) : 0;
    const size = body.limit ?? 100;
    const results = Array.from({ length: Math.min(size, total - offset) }, (_, i) => ({
      id: `r${offset + i}`,
    }));
    const next = offset + results.length;
    return next < total
      ? ok(results, { moreDataAvailable: true, nextCursor: `c${next}` })
      : ok(results, { moreDataAvailable: false, nextCursor: 'ignored', syncToken });
  };
}

async function collect<T>(iterator: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterator) out.push(x);
  return out;
}

describe('pages', () => {
  it('follows nextCursor while moreDataAvailable and surfaces the syncToken on the last page only', async () => {
    fake.setDefault(serveList(250));
    const pages = await collect(client.pages<{ id: string }>('candidate.list'));
    expect(pages.map((p) => p.results.length)).toEqual([100, 100, 50]);
    expect(pages.map((p) => p.cursor)).toEqual([undefined, 'c100', 'c200']);
    expect(pages.map((p) => p.nextCursor)).toEqual(['c100', 'c200', undefined]);
    expect(pages.map((p) => p.syncToken)).toEqual([undefined, undefined, 'sync-after']);
    expect(pages.map((p) => p.pageNumber)).toEqual([1, 2, 3]);
    expect(fake.requests.map((r) => r.body)).toEqual([
      { limit: 100 },
      { limit: 100, cursor: 'c100' },
      { limit: 100, cursor: 'c200' },
    ]);
  });

  it('sends the syncToken with every page of an incremental pass and keeps the caller’s filters', async () => {
    fake.setDefault(serveList(30));
    await collect(client.pages('application.list', { status: 'Active' }, { syncToken: 'tok', limit: 20 }));
    expect(fake.requests.map((r) => r.body)).toEqual([
      { status: 'Active', limit: 20, syncToken: 'tok' },
      { status: 'Active', limit: 20, cursor: 'c20', syncToken: 'tok' },
    ]);
  });

  it('resumes from a checkpointed cursor', async () => {
    fake.setDefault(serveList(250));
    const pages = await collect(client.pages('candidate.list', {}, { cursor: 'c200' }));
    expect(pages).toHaveLength(1);
    expect(pages[0]?.cursor).toBe('c200');
    expect(pages[0]?.results[0]).toEqual({ id: 'r200' });
  });

  it('caps the page size at 100', async () => {
    fake.setDefault(serveList(5));
    await collect(client.pages('candidate.list', {}, { limit: 500 }));
    expect(fake.requests[0]?.body).toEqual({ limit: 100 });
    expect(pageSize(0)).toBe(1);
    expect(pageSize(Number.NaN)).toBe(100);
  });

  it('yields the single answer of a list its catalogue calls unpaginated as one page, without a limit', async () => {
    fake.script('department.list', ok([{ id: 'd1' }, { id: 'd2' }], { moreDataAvailable: false }));
    const pages: AshbyPage<unknown>[] = await collect(
      client.pages('department.list', { includeArchived: true }),
    );
    expect(pages).toHaveLength(1);
    expect(pages[0]?.results).toHaveLength(2);
    expect(pages[0]?.moreDataAvailable).toBe(false);
    expect(fake.requests.map((r) => r.body)).toEqual([{ includeArchived: true }]);
  });

  it('reads every page of a list its catalogue calls unpaginated when Ashby pages it', async () => {
    fake.script(
      'department.list',
      ok([{ id: 'd1' }, { id: 'd2' }], { moreDataAvailable: true, nextCursor: 'p2' }),
    );
    fake.script('department.list', ok([{ id: 'd3' }], { moreDataAvailable: true, nextCursor: 'p3' }));
    fake.script('department.list', ok([{ id: 'd4' }], { moreDataAvailable: false }));
    const items = await collect(client.items<{ id: string }>('department.list', { includeArchived: true }));
    expect(items.map((i) => i.id)).toEqual(['d1', 'd2', 'd3', 'd4']);
    // No limit (the 2024 contract has none); the cursors Ashby handed out go back as they came.
    expect(fake.requests.map((r) => r.body)).toEqual([
      { includeArchived: true },
      { includeArchived: true, cursor: 'p2' },
      { includeArchived: true, cursor: 'p3' },
    ]);
  });

  it('refuses a page that says more data is available without a cursor to fetch it', async () => {
    fake.script('department.list', ok([{ id: 'd1' }], { moreDataAvailable: true }));
    const error = await collect(client.pages('department.list')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AshbyServerError);
    expect((error as AshbyServerError).code).toBe('pagination_stalled');
    expect((error as Error).message).toMatch(/more data is available but has no nextCursor/);
  });

  it('stops with an error instead of looping when the cursor does not advance', async () => {
    fake.setDefault(() => ok([{ id: 'x' }], { moreDataAvailable: true, nextCursor: 'same' }));
    const error = await collect(client.pages('candidate.list')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AshbyServerError);
    expect((error as AshbyServerError).code).toBe('pagination_stalled');
    expect(fake.requests).toHaveLength(2);
  });

  it('a non-list result on a list endpoint is a server error', async () => {
    fake.script('candidate.list', ok({ not: 'a list' }));
    await expect(collect(client.pages('candidate.list'))).rejects.toBeInstanceOf(AshbyServerError);
  });

  it('an expired cursor surfaces as a cursor error after the pages already yielded', async () => {
    fake.script('candidate.list', ok([{ id: 'a' }], { moreDataAvailable: true, nextCursor: 'c1' }));
    fake.script('candidate.list', fail('next_cursor_expired'));
    const seen: string[] = [];
    const error = await (async () => {
      for await (const item of client.items<{ id: string }>('candidate.list')) seen.push(item.id);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(['a']);
    expect(error).toBeInstanceOf(AshbyCursorError);
  });
});

describe('items', () => {
  it('yields every record of every page in order', async () => {
    fake.setDefault(serveList(205));
    const items = await collect(client.items<{ id: string }>('candidate.list'));
    expect(items).toHaveLength(205);
    expect(items[0]).toEqual({ id: 'r0' });
    expect(items[204]).toEqual({ id: 'r204' });
  });

  it('stopping early sends no further requests', async () => {
    fake.setDefault(serveList(1000));
    for await (const item of client.items<{ id: string }>('candidate.list')) {
      if (item.id === 'r150') break;
    }
    expect(fake.requests).toHaveLength(2);
  });
});

describe('pageRequestBody', () => {
  it('adds a limit only for paginated endpoints, a cursor wherever one was handed out', () => {
    expect(
      pageRequestBody({ paginated: true, incremental: true }, { a: 1 }, { cursor: 'x', syncToken: 't' }),
    ).toEqual({
      a: 1,
      limit: 100,
      cursor: 'x',
      syncToken: 't',
    });
    expect(pageRequestBody({ paginated: false, incremental: false }, { a: 1 }, {})).toEqual({ a: 1 });
    // A cursor Ashby handed out goes back even where the catalogue documents none.
    expect(pageRequestBody({ paginated: false, incremental: false }, { a: 1 }, { cursor: 'x' })).toEqual({
      a: 1,
      cursor: 'x',
    });
  });
});
