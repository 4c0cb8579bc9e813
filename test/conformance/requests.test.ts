/**
 * Every request body the client builds for a list endpoint — first page, page with a cursor, with a
 * syncToken, with a limit — conforms to the contract (`contract.ts`): documented parameters only, each
 * valid by the official spec's request schema. The bodies are the ones that actually reach a (scripted)
 * server, not reconstructions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENDPOINTS, type EndpointSpec } from '../../src/ashby/catalogue.js';
import { AshbyClient } from '../../src/ashby/client.js';
import { Limiter } from '../../src/ashby/limiter.js';
import { type FakeAshby, ok, type RecordedRequest, startFakeAshby } from '../support/fake-ashby.js';
import { loadSpec } from '../support/openapi.js';
import { requestProblems } from './contract.js';

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
      // Only documented parameters (or the cursor handed out), each of its documented type.
      expect({ body, problems: requestProblems(spec, name, body, new Set(['cursor-2'])) }).toEqual({
        body,
        problems: [],
      });
    }
  });
});
