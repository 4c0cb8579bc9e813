/**
 * What a push really sends. Every destination operation runs through `runPush` against the sandbox, behind
 * a proxy that records each request body as the client sent it: the look-ups (`candidate.search`,
 * `job.search`…) and every write, with the records' own fields. Each scenario must succeed (so the bodies are
 * the ones Ashby would accept), every write endpoint of every operation must be exercised, and every recorded
 * body must conform to the contract (`contract.ts`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findEndpoint } from '../../src/ashby/catalogue.js';
import { type Control, openControl } from '../../src/control/open.js';
import { type PushOptions, type RecordResult, runPush } from '../../src/push/engine.js';
import { OPERATIONS } from '../../src/push/operations/index.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { fixtures, operation, type Ref, rowsOf, sandboxClient, uniqueEmail } from '../push/helpers.js';
import { loadSpec } from '../support/openapi.js';
import { type Recorded, type RecordingProxy, startRecordingProxy } from '../support/recording-proxy.js';
import { excusedDefects, REQUEST_SCHEMA_DEFECTS, requestProblems } from './contract.js';

const spec = loadSpec();

interface Scenario {
  operation: string;
  /** What the records exercise, for the test's name. */
  what: string;
  records: () => Promise<Array<Record<string, unknown>>>;
  options?: Partial<PushOptions>;
  /** Write endpoints the scenario must send (written out from what the records ask for). */
  writes: readonly string[];
}

describe.skipIf(!spec.available)('the push’s request bodies conform to the contract', () => {
  let sandbox: Sandbox;
  let proxy: RecordingProxy;
  let control: Control;
  let dir: string;
  let fx: ReturnType<typeof fixtures>;
  const sent = new Map<string, Recorded[]>();

  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 40 });
    proxy = await startRecordingProxy(sandbox.url);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
    control = await openControl({ home: dir });
    fx = fixtures(sandbox);
  });
  afterAll(async () => {
    await control?.close();
    await proxy?.close();
    await sandbox?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Direct calls that set a scenario up; they bypass the proxy, so they are not part of what is checked. */
  const call = async <T = Ref>(endpoint: string, body: Record<string, unknown>): Promise<T> =>
    (await sandboxClient(sandbox).call<T>(endpoint, body)).results;
  const candidate = async () => {
    const email = uniqueEmail('conformance');
    const c = await call('candidate.create', { name: 'Conformance Check', email });
    return { id: c.id, email };
  };
  const application = async () => {
    const c = await candidate();
    return call('application.create', { candidateId: c.id, jobId: fx.openJob.id });
  };
  const field = (objectType: string, fieldType: string) => {
    const f = fx.customFields.find((x) => x.objectType === objectType && x.fieldType === fieldType);
    if (!f) throw new Error(`no ${objectType} ${fieldType} field in the sandbox`);
    return f.id;
  };

  const SCENARIOS: Scenario[] = [
    {
      operation: 'candidate.create',
      what: 'every field, looked up by email first',
      records: async () => [
        {
          name: 'Ada Lovelace',
          email: uniqueEmail('ada'),
          phoneNumber: '+44 20 7946 0000',
          linkedInUrl: 'https://www.linkedin.com/in/ada',
          githubUrl: 'https://github.com/ada',
          website: 'https://ada.example.com',
          alternateEmailAddresses: `["${uniqueEmail('alt')}"]`,
          'location.city': 'London',
          'location.country': 'United Kingdom',
          sourceId: fx.sources[0]?.id,
          creditedToUserId: fx.users[1]?.id,
          createdAt: '2025-01-02T03:04:05Z',
        },
      ],
      writes: ['candidate.create'],
    },
    {
      operation: 'candidate.create',
      what: 'an existing email with --on-existing update',
      records: async () => [
        { name: 'Renamed', email: (await candidate()).email, phoneNumber: '+1 555 0100' },
      ],
      options: { onExisting: 'update' },
      writes: ['candidate.update'],
    },
    {
      operation: 'candidate.update',
      what: 'contact fields and social links',
      records: async () => [
        {
          candidateId: (await candidate()).id,
          name: 'Grace Hopper',
          phoneNumber: '+1 555 0101',
          'socialLinks.0.type': 'GitHub',
          'socialLinks.0.url': 'https://github.com/grace',
          sourceId: fx.sources[1]?.id,
        },
      ],
      writes: ['candidate.update'],
    },
    {
      operation: 'candidate.addTag',
      what: 'by candidate email',
      records: async () => [{ candidateEmail: (await candidate()).email, tagId: fx.tags[0]?.id }],
      writes: ['candidate.addTag'],
    },
    {
      operation: 'candidate.createNote',
      what: 'an HTML note by candidate id',
      records: async () => [
        {
          candidateId: (await candidate()).id,
          note: '<p>Strong on <b>distributed</b> systems</p>',
          noteType: 'text/html',
          sendNotifications: 'false',
          createdAt: '2025-01-02T03:04:05Z',
        },
      ],
      writes: ['candidate.createNote'],
    },
    {
      operation: 'job.create',
      what: 'a requisition id and the status Open, reached in steps',
      records: async () => [
        {
          title: `Staff Engineer ${uniqueEmail('job')}`,
          teamId: fx.departments[0]?.id,
          locationId: fx.locations[0]?.id,
          customRequisitionId: 'REQ-42',
          status: 'Open',
        },
      ],
      writes: ['job.create', 'job.update', 'job.setStatus'],
    },
    {
      operation: 'job.update',
      what: 'a title and a status two transitions away',
      records: async () => {
        const job = await call('job.create', {
          title: `Draft ${uniqueEmail('job')}`,
          teamId: fx.departments[0]?.id,
          locationId: fx.locations[0]?.id,
        });
        return [{ jobId: job.id, title: 'Principal Engineer', status: 'Closed' }];
      },
      writes: ['job.update', 'job.setStatus'],
    },
    {
      operation: 'application.create',
      what: 'by candidate email, with a source and a first stage',
      records: async () => [
        {
          candidateEmail: (await candidate()).email,
          jobId: fx.openJob.id,
          interviewStageId: 'FirstPreInterviewScreen',
          sourceId: fx.sources[0]?.id,
          creditedToUserId: fx.users[1]?.id,
        },
      ],
      writes: ['application.create'],
    },
    {
      operation: 'application.changeStage',
      what: 'to an active stage, and to an archived one with its reason',
      records: async () => {
        const active = fx.stages.find((s) => s.type === 'Active');
        const archived = fx.stages.find((s) => s.type === 'Archived');
        return [
          { applicationId: (await application()).id, interviewStageId: active?.id },
          {
            applicationId: (await application()).id,
            interviewStageId: archived?.id,
            archiveReasonId: fx.archiveReasons[0]?.id,
          },
        ];
      },
      writes: ['application.changeStage'],
    },
    {
      operation: 'application.update',
      what: 'source, credit and notifications',
      records: async () => [
        {
          applicationId: (await application()).id,
          sourceId: fx.sources[2]?.id,
          creditedToUserId: fx.users[2]?.id,
          sendNotifications: 'false',
        },
      ],
      writes: ['application.update'],
    },
    {
      operation: 'offerProcess.start',
      what: 'the three steps, with a value of each field type of the form',
      records: async () => [
        {
          applicationId: (await application()).id,
          'offer.salary': 'USD 150000',
          'offer.Start date': '2026-09-01',
          'offer.Employment type': 'FullTime',
          'offer.benefits': '["Health","Dental"]',
        },
      ],
      writes: ['offerProcess.start', 'offer.start', 'offer.create'],
    },
    {
      operation: 'customField.setValue',
      what: 'a boolean, a number and a number range',
      records: async () => {
        const c = await candidate();
        return [
          {
            objectId: c.id,
            objectType: 'Candidate',
            fieldId: field('Candidate', 'Boolean'),
            fieldValue: 'yes',
          },
          {
            objectId: c.id,
            objectType: 'Candidate',
            fieldId: field('Candidate', 'Number'),
            fieldValue: '42',
          },
          {
            objectId: c.id,
            objectType: 'Candidate',
            fieldId: field('Candidate', 'NumberRange'),
            fieldValue: '{"minValue":1,"maxValue":5}',
          },
        ];
      },
      writes: ['customField.setValue'],
    },
    {
      operation: 'opening.create',
      what: 'jobs, locations, dates and state',
      records: async () => [
        {
          identifier: `HC-${uniqueEmail('hc')}`,
          description: 'New headcount',
          teamId: fx.departments[0]?.id,
          jobIds: `["${fx.openJob.id}"]`,
          locationIds: `["${fx.locations[0]?.id}"]`,
          targetHireDate: '2026-09-01',
          targetStartDate: '2026-10-01',
          isBackfill: 'false',
          employmentType: 'FullTime',
          openingState: 'Open',
        },
      ],
      writes: ['opening.create'],
    },
  ];

  it.each(SCENARIOS.map((s) => [`${s.operation}: ${s.what}`, s] as const))('%s', async (_name, scenario) => {
    const records = await scenario.records();
    const start = proxy.requests.length;
    const results: RecordResult[] = [];
    await runPush({
      client: sandboxClient(sandbox, 'sandbox-full', { baseUrl: proxy.url }),
      control,
      operation: operation(scenario.operation),
      rows: rowsOf(records),
      reconcileDelayMs: 0,
      onResult: (r) => results.push(r),
      ...scenario.options,
    });
    expect(
      results.map((r) => ({ status: r.status, error: r.error })),
      'every record is applied',
    ).toEqual(
      records.map(() => ({ status: expect.stringMatching(/^(created|updated)$/), error: undefined })),
    );
    const requests = proxy.requests.slice(start);
    const byOperation = sent.get(scenario.operation) ?? [];
    byOperation.push(...requests);
    sent.set(scenario.operation, byOperation);
    const endpoints = new Set(requests.map((r) => r.endpoint));
    for (const write of scenario.writes) expect(endpoints, write).toContain(write);
    const handedOut = new Set(requests.flatMap((r) => (r.nextCursor ? [r.nextCursor] : [])));
    for (const r of requests) {
      expect(r.status, r.endpoint).toBe(200);
      expect({
        endpoint: r.endpoint,
        body: r.body,
        problems: requestProblems(spec, r.endpoint, r.body, handedOut),
      }).toEqual({
        endpoint: r.endpoint,
        body: r.body,
        problems: [],
      });
    }
  });

  it('exercised every write endpoint of every operation', () => {
    const missing: string[] = [];
    for (const op of OPERATIONS) {
      const endpoints = new Set((sent.get(op.name) ?? []).map((r) => r.endpoint));
      for (const e of op.endpoints) {
        if (findEndpoint(e)?.access === 'write' && !endpoints.has(e)) missing.push(`${op.name}: ${e}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('met every documented defect of the spec it excuses, and excused nothing else', () => {
    expect([...excusedDefects].sort()).toEqual(REQUEST_SCHEMA_DEFECTS.map((d) => d.id).sort());
  });
});
