import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMPLEMENTED_ENDPOINTS, type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { findStream, selectStreams } from '../../src/streams/index.js';
import { type SyncSummary, syncToTarget } from '../../src/sync/index.js';
import { call } from '../sandbox/helpers.js';
import {
  readCustomFieldValues,
  readTable,
  referenceColumnDifferences,
  typedColumnDifferences,
} from '../support/typed-columns.js';
import {
  byObjectAndField,
  type CustomFieldValueRow,
  expectedCustomFieldValues,
  expectedRows,
  ORACLE_STREAMS,
} from '../support/world-oracle.js';
import { DIALECTS, expectedRecords, liveRecords, makeTarget, type TestTarget, withSink } from './helpers.js';

/** Every stream, opt-in child streams included: the sandbox serves each of their endpoints. */
const EVERY_STREAM = selectStreams({ streams: ['all'] });

it('the sandbox serves the endpoint of every stream, so none is left out of the comparison', () => {
  expect(EVERY_STREAM.filter((s) => !IMPLEMENTED_ENDPOINTS.includes(s.endpoint)).map((s) => s.name)).toEqual(
    [],
  );
  // …and the world oracle has a rule for each of them.
  expect(EVERY_STREAM.map((s) => s.name).filter((n) => !ORACLE_STREAMS.includes(n))).toEqual([]);
});

const fast = { limit: 6, backoffBaseMs: 5, backoffLimitMs: 20, jitter: false };

function streamOf(summary: SyncSummary, name: string) {
  const s = summary.streams.find((r) => r.stream === name);
  if (!s) throw new Error(`no result for ${name}`);
  return s;
}

async function customFieldValues(t: TestTarget): Promise<Array<Record<string, unknown>>> {
  return readCustomFieldValues(t.target);
}

describe.each(DIALECTS)('sync from the sandbox into %s', (dialect) => {
  let sandbox: Sandbox;
  let t: TestTarget;

  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 40, seed: 7 });
    t = await makeTarget(dialect);
  });
  afterAll(async () => {
    await sandbox?.close();
    await t?.cleanup();
  });

  const run = (options: Partial<Parameters<typeof syncToTarget>[0]> = {}) =>
    syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams: EVERY_STREAM,
      retry: fast,
      ...options,
    });

  it("stores every stream as the sandbox's world holds it: records, typed columns, custom field values", async () => {
    const summary = await run();
    const failed = summary.streams.filter((s) => s.status !== 'ok');
    expect(failed.map((s) => `${s.stream}: ${s.error?.message}`)).toEqual([]);
    expect(summary.exitCode).toBe(0);
    const wantValues: CustomFieldValueRow[] = [];
    const referenceColumns = new Map<string, string[]>();
    await withSink(t.target, async (sink) => {
      for (const stream of EVERY_STREAM) {
        const expected = expectedRecords(sandbox, stream);
        expect(await liveRecords(sink, stream.name), stream.name).toEqual(expected);
        wantValues.push(...expectedCustomFieldValues(expected, stream.name));
        // An empty stream has no table (it is created with the first record).
        if (t.dialect === 'jsonl' || expected.length === 0) continue;
        const contents = await readTable(t.target, stream.name);
        expect(typedColumnDifferences(stream.name, contents, expected, t.dialect), stream.name).toEqual([]);
        const refs = referenceColumnDifferences(stream.name, contents, expected, t.dialect);
        expect(refs.problems, stream.name).toEqual([]);
        referenceColumns.set(stream.name, refs.columns);
      }
    });
    if (t.dialect !== 'jsonl') {
      // The joins people write first, by hand: what the sandbox's records reference as nested objects.
      expect(referenceColumns.get('applications')).toEqual(
        expect.arrayContaining(['candidate_id', 'job_id', 'current_interview_stage_id']),
      );
      expect([...referenceColumns.values()].flat().length).toBeGreaterThan(5);
    }
    if (t.dialect !== 'jsonl') {
      // Candidates, applications, jobs, users, offers and openings (on their latest version) and
      // projects (customFieldEntries) all have values in this world.
      const objectTypes = new Set(wantValues.map((v) => v.object_type));
      expect([...objectTypes].sort()).toEqual(
        ['Application', 'Candidate', 'Employee', 'Job', 'Offer', 'Opening', 'Talent_Project'].sort(),
      );
      const got = (await customFieldValues(t)) as unknown as CustomFieldValueRow[];
      expect([...got].sort(byObjectAndField)).toEqual([...wantValues].sort(byObjectAndField));
    }
    // Something of substance was compared.
    expect(streamOf(summary, 'candidates').records).toBeGreaterThanOrEqual(40);
    expect(streamOf(summary, 'applications').records).toBeGreaterThan(0);
    // The streams the sandbox once served wrongly or not at all now carry records.
    for (const name of [
      'hiring_team_roles',
      'close_reasons',
      'brands',
      'communication_templates',
      'interview_events',
      'survey_submissions',
      'candidate_client_info',
      'application_criteria_evaluations',
    ]) {
      expect(streamOf(summary, name).records, name).toBeGreaterThan(0);
    }
    // Each survey submission is read once, under its own survey type.
    const submissions = findStream('survey_submissions');
    if (!submissions) throw new Error('no survey_submissions stream');
    expect(streamOf(summary, 'survey_submissions').records).toBe(
      expectedRecords(sandbox, submissions).length,
    );
  }, 120_000);

  it('picks up creates and updates incrementally, and deletes only after a complete full pass', async () => {
    const candidates = findStream('candidates');
    if (!candidates) throw new Error('no candidates stream');
    const [first, second] = expectedRecords(sandbox, candidates);
    if (!first || !second) throw new Error('sandbox too small');
    sandbox.mutate.updateCandidate(String(first.id), { name: 'Renamed Person' });
    const created = await call(sandbox, 'candidate.create', { name: 'Brand New', email: 'new@example.com' });
    expect(created.body.success).toBe(true);
    sandbox.mutate.deleteCandidate(String(second.id));

    const inc = await run({ streams: [candidates] });
    const c = streamOf(inc, 'candidates');
    expect(c.mode).toBe('incremental');
    expect(c.inserted).toBe(1);
    expect(c.updated).toBe(1);
    expect(c.deleted).toBe(0);
    await withSink(t.target, async (sink) => {
      const rows = await liveRecords(sink, 'candidates');
      expect(rows.find((r) => r.id === first.id)?.name).toBe('Renamed Person');
      expect(rows.some((r) => r.name === 'Brand New')).toBe(true);
      // The incremental pass cannot know about the deletion yet.
      expect(rows.some((r) => r.id === second.id)).toBe(true);
    });

    const full = await run({ streams: [candidates], fullRefresh: true });
    expect(streamOf(full, 'candidates')).toMatchObject({ mode: 'full', deleted: 1 });
    await withSink(t.target, async (sink) => {
      expect(await liveRecords(sink, 'candidates')).toEqual(expectedRecords(sandbox, candidates));
    });
  });

  it('stores each candidate note under the candidate it was read for', async () => {
    const own = await makeTarget(dialect);
    try {
      // candidate_notes is opt-in; its parent (candidates) is added because it never synced into this target.
      const summary = await run({
        target: own.target,
        streams: selectStreams({ streams: ['candidate_notes'] }),
      });
      expect(summary.exitCode).toBe(0);
      const expected = new Map<string, string>();
      for (const { record, parentId } of expectedRows(sandbox.world, 'candidate_notes')) {
        // The reason for the column: a note does not name its candidate.
        expect(record.candidateId).toBeUndefined();
        expected.set(String(record.id), String(parentId));
      }
      expect(new Set(expected.values()).size).toBeGreaterThan(1);
      await withSink(own.target, async (sink) => {
        const rows = await sink.readRows('candidate_notes', { includeDeleted: false });
        const stored = new Map(
          rows.map((r) => [String(JSON.parse(String(r._ashpipe_raw)).id), r._ashpipe_parent_id]),
        );
        expect(stored).toEqual(expected);
      });
    } finally {
      await own.cleanup();
    }
  });

  it.skipIf(dialect === 'jsonl')(
    'adds a column for a new field, keeps the raw record, and stores odd custom field titles safely',
    async () => {
      const candidates = findStream('candidates');
      if (!candidates) throw new Error('no candidates stream');
      const [first] = expectedRecords(sandbox, candidates);
      if (!first) throw new Error('sandbox too small');
      const oddTitle = `Level"; DROP TABLE candidates; -- ') \u00e9\u{1F600}`;
      sandbox.mutate.updateCandidate(String(first.id), {
        sourcingStage: 'Reached out',
        customFields: [{ id: 'cf-odd', title: oddTitle, value: { nested: ["a'b", 1] } }],
      });
      const summary = await run({ streams: [candidates] });
      const c = streamOf(summary, 'candidates');
      expect(c.newColumns).toContain('sourcing_stage');
      await withSink(t.target, async (sink) => {
        const rows = await sink.readRows('candidates', { includeDeleted: false });
        const row = rows.find((r) => r.id === first.id);
        expect(row?.sourcing_stage).toBe('Reached out');
        expect(JSON.parse(String(row?._ashpipe_raw)).sourcingStage).toBe('Reached out');
      });
      const values = await customFieldValues(t);
      const odd = values.find((v) => v.field_id === 'cf-odd');
      expect(odd?.title).toBe(oddTitle);
      expect(odd?.object_id).toBe(first.id);
      const value = typeof odd?.value === 'string' ? JSON.parse(odd.value) : odd?.value;
      expect(value).toEqual({ nested: ["a'b", 1] });
    },
  );
});

describe('sync permissions and confidential records', () => {
  let sandbox: Sandbox;
  const targets: TestTarget[] = [];

  beforeAll(async () => {
    sandbox = await startSandbox({
      scale: 40,
      seed: 3,
      keys: [
        {
          key: 'no-offers-key',
          scopes: ['candidatesRead', 'jobsRead', 'organizationRead'],
          confidential: true,
        },
      ],
    });
  });
  afterAll(async () => {
    await sandbox?.close();
    for (const t of targets) await t.cleanup();
  });

  it('skips a stream the key cannot read, names scope and module, and completes the others', async () => {
    const t = await makeTarget('sqlite');
    targets.push(t);
    const summary = await syncToTarget({
      apiKey: 'no-offers-key',
      baseUrl: sandbox.url,
      target: t.target,
      streams: selectStreams({ streams: ['candidates', 'offers', 'jobs'] }),
      retry: fast,
    });
    expect(summary.exitCode).toBe(3);
    const offers = streamOf(summary, 'offers');
    expect(offers.status).toBe('skipped');
    expect(offers.error?.scope).toBe('offersRead');
    expect(offers.error?.message).toContain('Offers: Read');
    expect(streamOf(summary, 'candidates').status).toBe('ok');
    expect(streamOf(summary, 'jobs').status).toBe('ok');
  });

  it('leaves out confidential jobs and what hangs off them with --exclude-confidential', async () => {
    const t = await makeTarget('sqlite');
    targets.push(t);
    const jobs = findStream('jobs');
    const applications = findStream('applications');
    if (!jobs || !applications) throw new Error('streams missing');
    const allJobs = expectedRecords(sandbox, jobs);
    const secret = new Set(allJobs.filter((j) => j.confidential === true).map((j) => String(j.id)));
    expect(secret.size).toBeGreaterThan(0);
    const allApps = expectedRecords(sandbox, applications);
    const secretApps = allApps.filter((a) => secret.has(String((a.job as { id?: string } | undefined)?.id)));

    const summary = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams: selectStreams({ streams: ['jobs', 'applications', 'offers', 'job_postings'] }),
      excludeConfidential: true,
      retry: fast,
    });
    expect(summary.exitCode).toBe(0);
    expect(streamOf(summary, 'jobs').droppedConfidential).toBe(secret.size);
    expect(streamOf(summary, 'applications').droppedConfidential).toBe(secretApps.length);
    await withSink(t.target, async (sink) => {
      const storedJobs = await liveRecords(sink, 'jobs');
      expect(storedJobs.some((j) => j.confidential === true)).toBe(false);
      expect(storedJobs).toHaveLength(allJobs.length - secret.size);
      const storedApps = await liveRecords(sink, 'applications');
      expect(storedApps.some((a) => secret.has(String((a.job as { id?: string }).id)))).toBe(false);
      const secretAppIds = new Set(secretApps.map((a) => String(a.id)));
      const storedOffers = await liveRecords(sink, 'offers');
      expect(storedOffers.some((o) => secretAppIds.has(String(o.applicationId)))).toBe(false);
    });
  });
});

describe('a list its 2024 contract answers in one request, paged by Ashby', () => {
  let sandbox: Sandbox;
  let t: TestTarget;
  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 40, seed: 9 });
    t = await makeTarget('sqlite');
  });
  afterAll(async () => {
    await sandbox?.close();
    await t?.cleanup();
  });

  it('is read to its last page: no department is left out', async () => {
    // More departments than one page (100) holds.
    for (let i = 0; i < 120; i++) {
      const created = await call(sandbox, 'department.create', { name: `Team ${i}` });
      expect(created.body.success).toBe(true);
    }
    const departments = findStream('departments');
    if (!departments) throw new Error('no departments stream');
    expect(departments.paginated).toBe(false);
    sandbox.resetStats();
    const summary = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams: [departments],
      retry: fast,
    });
    expect(summary.exitCode).toBe(0);
    expect(sandbox.stats().requests['department.list']).toBe(2);
    const expected = expectedRecords(sandbox, departments);
    expect(expected.length).toBeGreaterThan(120);
    await withSink(t.target, async (sink) => {
      expect(await liveRecords(sink, 'departments')).toEqual(expected);
    });
  });
});
