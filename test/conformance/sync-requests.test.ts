/**
 * What a sync really sends. Every stream is synced with `syncToTarget` (the path `ashpipe sync` takes)
 * against a server that answers every list with two pages, so each stream sends its first page and a page
 * with a cursor; a second sync then sends the stored syncToken of every incremental stream. Each recorded
 * body — with the include and filter parameters the stream asks for, the parent id of a child stream, the
 * survey type of a fanned-out one — must conform to the contract (`contract.ts`).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findEndpoint } from '../../src/ashby/catalogue.js';
import { type ResolvedStream, selectStreams } from '../../src/streams/index.js';
import { syncToTarget } from '../../src/sync/run.js';
import { type FakeAshby, ok, type RecordedRequest, startFakeAshby } from '../support/fake-ashby.js';
import { loadSpec } from '../support/openapi.js';
import { documented, requestProblems } from './contract.js';

const spec = loadSpec();
const CURSOR = 'cursor-page-2';
const STREAMS: readonly ResolvedStream[] = selectStreams({ streams: ['all'] });

/** Two pages of one record each (UUID ids, so that child requests carry well-formed parent ids). */
function twoPages(request: RecordedRequest) {
  const body = (request.body ?? {}) as { cursor?: unknown };
  return body.cursor === CURSOR
    ? ok([{ id: randomUUID() }], { moreDataAvailable: false, syncToken: `token-${request.endpoint}` })
    : ok([{ id: randomUUID() }], { moreDataAvailable: true, nextCursor: CURSOR });
}

describe.skipIf(!spec.available)('the sync’s request bodies conform to the contract', () => {
  let fake: FakeAshby;
  let dir: string;
  let firstRun: RecordedRequest[];
  let secondRun: RecordedRequest[];

  beforeAll(async () => {
    fake = await startFakeAshby();
    fake.setDefault(twoPages);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
    const sync = () =>
      syncToTarget({
        apiKey: 'conformance-key',
        baseUrl: fake.url,
        target: `sqlite:${path.join(dir, 'sync.db')}`,
        streams: STREAMS,
        retry: { limit: 1 },
      });
    const first = await sync();
    expect(first.exitCode, JSON.stringify(first.streams.filter((s) => s.status !== 'ok'))).toBe(0);
    firstRun = [...fake.requests];
    const second = await sync();
    expect(second.exitCode).toBe(0);
    secondRun = fake.requests.slice(firstRun.length);
  }, 60_000);

  afterAll(async () => {
    await fake?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const bodiesOf = (requests: RecordedRequest[], endpoint: string) =>
    requests.filter((r) => r.endpoint === endpoint).map((r) => (r.body ?? {}) as Record<string, unknown>);

  it('the check has teeth: a misspelled parameter, a wrong type and an unknown cursor are refused', () => {
    expect(requestProblems(spec, 'department.list', { includeArchieved: true })).toEqual([
      '"includeArchieved" is not a parameter of department.list',
    ]);
    expect(requestProblems(spec, 'candidate.list', { limit: 'all' })).not.toEqual([]);
    expect(requestProblems(spec, 'application.listHistory', { applicationId: 'not-a-uuid' })).not.toEqual([]);
    expect(requestProblems(spec, 'application.listHistory', { cursor: 'x' })).not.toEqual([]);
    expect(requestProblems(spec, 'source.list', { cursor: 'made-up' })).toEqual([
      '"cursor" is not a parameter of source.list',
    ]);
    expect(requestProblems(spec, 'source.list', { cursor: CURSOR }, new Set([CURSOR]))).toEqual([]);
  });

  it('covers every stream ashpipe can sync, each with a documented endpoint', () => {
    expect(STREAMS.length).toBeGreaterThanOrEqual(40);
    for (const stream of STREAMS) expect(documented(spec, stream.endpoint), stream.endpoint).toBe(true);
  });

  it.each(STREAMS.map((s) => [s.name, s] as const))('%s', (_name, stream) => {
    const first = bodiesOf(firstRun, stream.endpoint);
    // A first page and, since every answer offers one, a page with the cursor.
    expect(
      first.some((b) => !('cursor' in b)),
      'a first page',
    ).toBe(true);
    expect(
      first.some((b) => b.cursor === CURSOR),
      'a cursor page',
    ).toBe(true);
    const bodies = [...first, ...bodiesOf(secondRun, stream.endpoint)];
    if (stream.parent) {
      // One request per parent record, the parent's id in the parameter the stream names.
      expect(bodies.every((b) => typeof b[stream.parent?.param ?? ''] === 'string')).toBe(true);
    }
    if (findEndpoint(stream.endpoint)?.incremental && !stream.parent) {
      // The second run resumes from the token the first run stored.
      expect(
        bodiesOf(secondRun, stream.endpoint).some((b) => b.syncToken === `token-${stream.endpoint}`),
      ).toBe(true);
    }
    for (const body of bodies) {
      expect({ body, problems: requestProblems(spec, stream.endpoint, body, new Set([CURSOR])) }).toEqual({
        body,
        problems: [],
      });
    }
  });

  it('sends nothing but documented list requests', () => {
    const endpoints = new Set([...firstRun, ...secondRun].map((r) => r.endpoint));
    const streamEndpoints = new Set(STREAMS.map((s) => s.endpoint));
    expect([...endpoints].filter((e) => !streamEndpoints.has(e))).toEqual([]);
  });
});
