/**
 * Every request body the client builds for a list endpoint — first page, page with a cursor, with a
 * syncToken, with a limit — validates against the official spec's request schema for that endpoint.
 * The bodies are the ones that actually reach a (scripted) server, not reconstructions.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENDPOINTS, type EndpointSpec } from '../../src/ashby/catalogue.js';
import { AshbyClient } from '../../src/ashby/client.js';
import { Limiter } from '../../src/ashby/limiter.js';
import { type FakeAshby, ok, type RecordedRequest, startFakeAshby } from '../support/fake-ashby.js';
import { loadSpec } from '../support/openapi.js';

const spec = loadSpec();
if (!spec.available) {
  console.warn(
    `[conformance] OpenAPI spec not found at ${spec.specPath}: request conformance tests are skipped`,
  );
  if (process.env.REQUIRE_SPEC === '1')
    throw new Error(`REQUIRE_SPEC=1 but the spec is missing at ${spec.specPath}`);
}

const SOME_ID = '3ae2b801-19f6-41ef-ad28-214bd731948f';
/** Parameters the spec makes required for some list endpoints; the caller supplies them, the client keeps them. */
const REQUIRED_FILTERS: Record<string, Record<string, unknown>> = {
  'candidate.listNotes': { candidateId: SOME_ID },
  'interviewEvent.list': { interviewScheduleId: SOME_ID },
  'interviewStage.list': { interviewPlanId: SOME_ID },
  'surveyRequest.list': { surveyType: 'CandidateExperience' },
  'surveySubmission.list': { surveyType: 'CandidateExperience' },
};

/** Whether the spec documents a request body for the endpoint (a few list endpoints take none). */
let specPaths: Record<string, { post?: { requestBody?: unknown } }> | undefined;
function hasRequestSchema(endpoint: string): boolean {
  specPaths ??= (JSON.parse(readFileSync(spec.specPath, 'utf8')) as { paths?: typeof specPaths }).paths ?? {};
  return specPaths[`/${endpoint}`]?.post?.requestBody !== undefined;
}

const lists = (ENDPOINTS as readonly EndpointSpec[]).filter(
  (e) =>
    e.since === '2024-11' && e.access === 'read' && e.implementedBy === undefined && /\.list/.test(e.name),
);

/** Two pages, so that the second request carries a cursor. */
function twoPages(request: RecordedRequest) {
  const body = (request.body ?? {}) as { cursor?: string };
  return body.cursor
    ? ok([{ id: 'b' }], { moreDataAvailable: false, syncToken: 'next-token' })
    : ok([{ id: 'a' }], { moreDataAvailable: true, nextCursor: 'cursor-2' });
}

describe.skipIf(!spec.available)('request bodies conform to the spec', () => {
  let fake: FakeAshby;
  let client: AshbyClient;
  beforeAll(async () => {
    fake = await startFakeAshby();
    fake.setDefault(twoPages);
    client = new AshbyClient({
      apiKey: 'conformance-key',
      baseUrl: fake.url,
      limiter: new Limiter(),
      retry: { limit: 1 },
    });
  });
  afterAll(async () => {
    await fake.close();
  });

  it('the check has teeth: a malformed page request is rejected', () => {
    expect(spec.validateRequest('candidate.list', { limit: 'all', cursor: 7 })).not.toEqual([]);
  });

  it('covers the paginated and incremental list endpoints', () => {
    expect(lists.filter((e) => e.paginated).length).toBeGreaterThan(10);
    expect(lists.filter((e) => e.incremental).length).toBeGreaterThan(10);
  });

  it.each(lists.map((e) => [e.name, e] as const))('%s', async (name, endpoint) => {
    const filters = REQUIRED_FILTERS[name] ?? {};
    const variants = [{}, { limit: 25 }, ...(endpoint.incremental ? [{ syncToken: 'previous-token' }] : [])];
    const start = fake.requests.length;
    for (const options of variants) {
      for await (const _page of client.pages(name, filters, options)) {
        // Reading every page is what produces the cursor requests.
      }
    }
    const bodies = fake.requests.slice(start).map((r) => r.body as Record<string, unknown>);
    if (endpoint.paginated) expect(bodies.some((b) => 'cursor' in b)).toBe(true);
    if (endpoint.incremental) expect(bodies.some((b) => 'syncToken' in b)).toBe(true);
    // Every list is followed while Ashby hands out cursors, paginated in the 2024 contract or not.
    expect(bodies.some((b) => b.cursor === 'cursor-2')).toBe(true);
    for (const body of bodies) {
      if (!hasRequestSchema(name)) {
        // The spec documents no request body here: the client invents none, and only hands back the
        // cursor Ashby gave it.
        const { cursor, ...rest } = body;
        expect(rest).toEqual(filters);
        if (cursor !== undefined) expect(cursor).toBe('cursor-2');
        continue;
      }
      expect({ body, errors: spec.validateRequest(name, body) }).toEqual({ body, errors: [] });
    }
  });
});
