import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getEndpoint } from '../../src/ashby/catalogue.js';
import type { Control } from '../../src/control/open.js';
import { type RecordResult, runPush } from '../../src/push/engine.js';
import { getLedgerEntry, ledgerCounts, listQuarantine } from '../../src/push/ledger.js';
import { manualOperation } from '../../src/push/operations/index.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import {
  fixtures,
  openHomeControl,
  operation,
  pushTo,
  type Ref,
  removeAll,
  rowsOf,
  sandboxClient,
  tempDir,
  uniqueEmail,
  writeRequests,
  writesFor,
} from './helpers.js';

let sandbox: Sandbox;
let fx: ReturnType<typeof fixtures>;
const cleanup: string[] = [];
let control: Control;

beforeAll(async () => {
  sandbox = await startSandbox({ scale: 40 });
  fx = fixtures(sandbox);
});
afterAll(() => sandbox.close());
beforeEach(async () => {
  control = await openHomeControl(tempDir(cleanup));
  sandbox.faults.reset();
  sandbox.resetStats();
});
afterEach(async () => {
  await control.close();
  removeAll(cleanup);
});

const read = async <T = Ref>(endpoint: string, body: Record<string, unknown>): Promise<T> =>
  (await sandboxClient(sandbox).call<T>(endpoint, body)).results;

async function newCandidate(name = 'Push Test'): Promise<Ref> {
  return read('candidate.create', { name, email: uniqueEmail() });
}

async function newApplication(): Promise<{ candidate: Ref; application: Ref }> {
  const candidate = await newCandidate();
  const application = await read('application.create', { candidateId: candidate.id, jobId: fx.openJob.id });
  return { candidate, application };
}

describe('candidate.create against the sandbox', () => {
  it('creates once per email; a rerun skips the done records and says how many', async () => {
    const input = [
      { name: 'Ada Lovelace', email: uniqueEmail('ada'), 'location.city': 'London' },
      { name: 'Grace Hopper', email: uniqueEmail('grace'), linkedInUrl: 'https://www.linkedin.com/in/grace' },
    ];
    const first = await pushTo(sandbox, control, 'candidate.create', input);
    expect(first.summary.counts.created).toBe(2);
    const second = await pushTo(sandbox, control, 'candidate.create', input);
    expect(second.summary.counts['skipped-done']).toBe(2);
    expect(second.results.map((r) => r.id)).toEqual(first.results.map((r) => r.id));
    for (const r of input) expect(writesFor(sandbox, 'candidate.create', r.email)).toBe(1);
    const ada = await read<{ primaryLocation?: { locationSummary?: string } }>('candidate.info', {
      id: first.results[0]?.id,
    });
    expect(ada.primaryLocation?.locationSummary).toBe('London');
  });

  it('--on-existing skip (default), update and create, reported per record', async () => {
    const existing = await newCandidate('Before');
    const email = String(
      (await read<{ primaryEmailAddress: { value: string } }>('candidate.info', { id: existing.id }))
        .primaryEmailAddress.value,
    );

    sandbox.resetStats();
    const skip = await pushTo(sandbox, control, 'candidate.create', [{ name: 'Skip', email }]);
    expect(skip.results[0]).toMatchObject({ status: 'skipped-existing', id: existing.id });
    expect(writeRequests(sandbox, ['candidate.create', 'candidate.update'])).toBe(0);

    const update = await pushTo(sandbox, control, 'candidate.create', [{ name: 'After', email }], {
      onExisting: 'update',
    });
    expect(update.results[0]).toMatchObject({ status: 'updated', id: existing.id });
    expect((await read<{ name: string }>('candidate.info', { id: existing.id })).name).toBe('After');

    const create = await pushTo(sandbox, control, 'candidate.create', [{ name: 'Twin', email }], {
      onExisting: 'create',
    });
    expect(create.results[0]?.status).toBe('created');
    expect(create.results[0]?.id).not.toBe(existing.id);
    expect(await read<unknown[]>('candidate.search', { email })).toHaveLength(2);
  });

  it('quarantines what Ashby refuses (a source that does not exist) with its code and requestId', async () => {
    const { summary, results } = await pushTo(sandbox, control, 'candidate.create', [
      { name: 'No Source', email: uniqueEmail(), sourceId: '00000000-0000-4000-8000-000000000000' },
      { name: 'Fine', email: uniqueEmail() },
    ]);
    expect(summary.counts).toMatchObject({ created: 1, quarantined: 1 });
    expect(results[0]?.error?.code).toBe('source_not_found');
    const [entry] = await listQuarantine(control.db);
    expect(entry).toMatchObject({
      rowNumber: 1,
      errorCode: 'source_not_found',
      operation: 'candidate.create',
    });
    expect(entry?.requestId).toBeTruthy();
    expect(entry?.raw).toMatchObject({ name: 'No Source' });
  });
});

describe('other candidate operations', () => {
  it('candidate.update changes only the given fields', async () => {
    const c = await newCandidate('Update Me');
    const { results } = await pushTo(sandbox, control, 'candidate.update', [
      {
        candidateId: c.id,
        phoneNumber: '+44 20 7946 0000',
        'socialLinks.0.type': 'GitHub',
        'socialLinks.0.url': 'https://github.com/u',
      },
    ]);
    expect(results[0]).toMatchObject({ status: 'updated', id: c.id });
    const after = await read<{
      name: string;
      primaryPhoneNumber?: { value: string };
      socialLinks: Array<{ url: string }>;
    }>('candidate.info', { id: c.id });
    expect(after.name).toBe('Update Me');
    expect(after.primaryPhoneNumber?.value).toBe('+44 20 7946 0000');
    expect(after.socialLinks.map((l) => l.url)).toContain('https://github.com/u');
  });

  it('candidate.addTag by email and by id; an unknown email is quarantined without a write', async () => {
    const c = await newCandidate();
    const email = (await read<{ primaryEmailAddress: { value: string } }>('candidate.info', { id: c.id }))
      .primaryEmailAddress.value;
    const [t1, t2] = fx.tags;
    const { summary, results } = await pushTo(sandbox, control, 'candidate.addTag', [
      { candidateEmail: email, tagId: t1?.id },
      { candidateId: c.id, tagId: t2?.id },
      { candidateEmail: uniqueEmail('nobody'), tagId: t1?.id },
    ]);
    expect(summary.counts).toMatchObject({ updated: 2, quarantined: 1 });
    expect(results[2]?.error).toMatchObject({ code: 'candidate_not_found', path: 'candidateEmail' });
    const tags = (await read<{ tags: Ref[] }>('candidate.info', { id: c.id })).tags.map((t) => t.id);
    expect(tags).toEqual(expect.arrayContaining([t1?.id, t2?.id]));
    expect(writesFor(sandbox, 'candidate.addTag')).toBe(2);
  });

  it('candidate.createNote adds one note; a rerun does not add another', async () => {
    const c = await newCandidate();
    const input = [{ candidateId: c.id, note: 'Met at the meetup — strong on “distributed” systems.' }];
    const first = await pushTo(sandbox, control, 'candidate.createNote', input);
    expect(first.results[0]?.status).toBe('created');
    await pushTo(sandbox, control, 'candidate.createNote', input);
    const notes = await read<Array<{ content: string }>>('candidate.listNotes', { candidateId: c.id });
    expect(notes.filter((n) => n.content === input[0]?.note)).toHaveLength(1);
  });
});

describe('jobs', () => {
  const newJobRecord = (extra: Record<string, unknown> = {}) => ({
    title: `Staff Engineer ${uniqueEmail('job')}`,
    teamId: fx.departments[0]?.id,
    locationId: fx.locations[0]?.id,
    ...extra,
  });

  it('job.create sets the requisition id and moves the new Draft to Open in steps', async () => {
    const input = [newJobRecord({ customRequisitionId: 'REQ-42', status: 'Open' })];
    const { results } = await pushTo(sandbox, control, 'job.create', input);
    expect(results[0]?.status).toBe('created');
    const job = await read<{ status: string; customRequisitionId: string; title: string }>('job.info', {
      id: results[0]?.id,
    });
    expect(job).toMatchObject({ status: 'Open', customRequisitionId: 'REQ-42', title: input[0]?.title });
    const rerun = await pushTo(sandbox, control, 'job.create', input);
    expect(rerun.results[0]?.status).toBe('skipped-done');
    expect(writesFor(sandbox, 'job.create')).toBe(1);
  });

  it('job.update follows the documented transitions: Draft → Closed goes through Open', async () => {
    const created = await pushTo(sandbox, control, 'job.create', [newJobRecord()]);
    const jobId = String(created.results[0]?.id);
    sandbox.resetStats();
    const toClosed = await pushTo(sandbox, control, 'job.update', [
      { jobId, title: 'Renamed', status: 'Closed' },
    ]);
    expect(toClosed.results[0]?.status).toBe('updated');
    expect(writesFor(sandbox, 'job.setStatus')).toBe(2);
    expect(await read<{ status: string; title: string }>('job.info', { id: jobId })).toMatchObject({
      status: 'Closed',
      title: 'Renamed',
    });
    const toArchived = await pushTo(sandbox, control, 'job.update', [{ jobId, status: 'Archived' }]);
    expect(toArchived.results[0]?.status).toBe('updated');
    expect((await read<{ status: string }>('job.info', { id: jobId })).status).toBe('Archived');
  });

  it('a transition Ashby refuses (Draft → Closed sent directly) is quarantined with Ashby’s reason', async () => {
    const created = await pushTo(sandbox, control, 'job.create', [newJobRecord()]);
    const jobId = String(created.results[0]?.id);
    const manual = manualOperation(getEndpoint('job.setStatus'));
    const { summary, results } = await pushTo(sandbox, control, manual, [{ jobId, status: 'Closed' }]);
    expect(summary.counts.quarantined).toBe(1);
    expect(results[0]?.error?.code).toBe('invalid_input');
    expect(results[0]?.error?.message).toMatch(/Draft to Closed/);
    expect((await read<{ status: string }>('job.info', { id: jobId })).status).toBe('Draft');
  });

  it('a status outside the enum never reaches Ashby', async () => {
    const { results } = await pushTo(sandbox, control, 'job.update', [
      { jobId: fx.openJob.id, status: 'Paused' },
    ]);
    expect(results[0]).toMatchObject({ status: 'quarantined', error: { path: 'status' } });
    expect(writeRequests(sandbox, ['job.setStatus', 'job.update'])).toBe(0);
  });
});

describe('applications', () => {
  it('application.create by candidate id and by email; the same candidate + job is not applied twice', async () => {
    const a = await newCandidate('By Id');
    const b = await newCandidate('By Email');
    const bEmail = (await read<{ primaryEmailAddress: { value: string } }>('candidate.info', { id: b.id }))
      .primaryEmailAddress.value;
    const { summary, results } = await pushTo(sandbox, control, 'application.create', [
      { candidateId: a.id, jobId: fx.openJob.id },
      { candidateEmail: bEmail, jobId: fx.openJob.id, interviewStageId: 'FirstPreInterviewScreen' },
      { candidateId: a.id, candidateEmail: bEmail, jobId: fx.openJob.id },
    ]);
    expect(summary.counts).toMatchObject({ created: 2, quarantined: 1 });
    expect(results[2]?.error?.path).toBe('candidateId');
    const app = await read<{ candidate: Ref; currentInterviewStage: { type: string } }>('application.info', {
      applicationId: results[1]?.id,
    });
    expect(app.candidate.id).toBe(b.id);
    expect(app.currentInterviewStage.type).toBe('PreInterviewScreen');
    // A different record (another source) for the same candidate and job: reported, not duplicated.
    const again = await pushTo(sandbox, control, 'application.create', [
      { candidateId: a.id, jobId: fx.openJob.id, sourceId: fx.sources[0]?.id },
    ]);
    expect(again.results[0]).toMatchObject({ status: 'skipped-existing', id: results[0]?.id });
    expect(writesFor(sandbox, 'application.create', `${a.id}:${fx.openJob.id}`)).toBe(1);
  });

  it('application.changeStage: a stage move, and an Archived stage without a reason refused by Ashby', async () => {
    const { application } = await newApplication();
    const phone = fx.stages.find((s) => s.type === 'Active');
    const archived = fx.stages.find((s) => s.type === 'Archived');
    const { summary, results } = await pushTo(
      sandbox,
      control,
      'application.changeStage',
      [
        { applicationId: application.id, interviewStageId: phone?.id },
        { applicationId: application.id, interviewStageId: archived?.id },
      ],
      { concurrency: 1 },
    );
    expect(summary.counts).toMatchObject({ updated: 1, quarantined: 1 });
    expect(results[1]?.error?.code).toBe('invalid_input');
    expect(results[1]?.error?.requestId).toBeTruthy();
    expect(
      (await read<{ currentInterviewStage: Ref }>('application.info', { applicationId: application.id }))
        .currentInterviewStage.id,
    ).toBe(phone?.id);
    const fixed = await pushTo(sandbox, control, 'application.changeStage', [
      {
        applicationId: application.id,
        interviewStageId: archived?.id,
        archiveReasonId: fx.archiveReasons[0]?.id,
      },
    ]);
    expect(fixed.results[0]?.status).toBe('updated');
    expect(
      (await read<{ status: string }>('application.info', { applicationId: application.id })).status,
    ).toBe('Archived');
  });

  it('application.update sets the source', async () => {
    const { application } = await newApplication();
    const source = fx.sources[1] as Ref;
    const { results } = await pushTo(sandbox, control, 'application.update', [
      { applicationId: application.id, sourceId: source.id, sendNotifications: 'no' },
    ]);
    expect(results[0]?.status).toBe('updated');
    expect(
      (await read<{ source: Ref }>('application.info', { applicationId: application.id })).source.id,
    ).toBe(source.id);
  });
});

describe('offers: offerProcess.start → offer.start → offer.create', () => {
  const offer = {
    'offer.salary': 'USD 150000',
    'offer.Start date': '2026-09-01',
    'offer.Employment type': 'FullTime',
    'offer.benefits': '["Health","Dental"]',
  };

  it('starts the process only, without offer fields', async () => {
    const { application } = await newApplication();
    const { results } = await pushTo(sandbox, control, 'offerProcess.start', [
      { applicationId: application.id },
    ]);
    expect(results[0]?.status).toBe('created');
    expect(writesFor(sandbox, 'offerProcess.start', application.id)).toBe(1);
    expect(writeRequests(sandbox, ['offer.start', 'offer.create'])).toBe(0);
  });

  it('goes through the three steps, mapping the record onto the form’s fields', async () => {
    const { application } = await newApplication();
    const { results } = await pushTo(sandbox, control, 'offerProcess.start', [
      { applicationId: application.id, ...offer },
    ]);
    expect(results[0]?.status).toBe('created');
    const offers = await read<Array<{ id: string; latestVersion: { salary: unknown; startDate: string } }>>(
      'offer.list',
      { applicationId: application.id },
    );
    expect(offers).toHaveLength(1);
    expect(offers[0]?.id).toBe(results[0]?.id);
    expect(offers[0]?.latestVersion).toMatchObject({
      salary: { currencyCode: 'USD', value: 150000 },
      startDate: '2026-09-01',
    });
    const stats = sandbox.stats();
    expect([
      stats.writes['offerProcess.start'],
      stats.writes['offer.start'],
      stats.writes['offer.create'],
    ]).toEqual([1, 1, 1]);
  });

  it('resumes after the last completed step: a failed offer.create does not start a second process', async () => {
    const { application } = await newApplication();
    sandbox.faults.set({ failEndpoints: { 'offer.create': { status: 500, times: 1 } } });
    const first = await pushTo(
      sandbox,
      control,
      'offerProcess.start',
      [{ applicationId: application.id, ...offer }],
      {
        maxReconcileAttempts: 1,
      },
    );
    expect(first.results[0]?.status).toBe('failed');
    const entry = await getLedgerEntry(control.db, 'offerProcess.start', `application:${application.id}`);
    expect(entry?.state).toBe('in-flight');
    expect(typeof entry?.stepData.offerProcessId).toBe('string');
    sandbox.faults.reset();
    const second = await pushTo(sandbox, control, 'offerProcess.start', [
      { applicationId: application.id, ...offer },
    ]);
    expect(second.results[0]?.status).toBe('created');
    expect(writesFor(sandbox, 'offerProcess.start', application.id)).toBe(1);
    expect(writesFor(sandbox, 'offer.create')).toBe(1);
    expect(await read<unknown[]>('offer.list', { applicationId: application.id })).toHaveLength(1);
  });

  it('a start whose answer was lost is quarantined for a person, never sent again (no endpoint lists processes)', async () => {
    const { application } = await newApplication();
    sandbox.resetStats();
    // The sandbox applies the write after the delay; the client has given up by then.
    sandbox.faults.set({ latencyMs: 400 });
    const results: RecordResult[] = [];
    const summary = await runPush({
      client: sandboxClient(sandbox, 'sandbox-full', { timeoutMs: 100 }),
      control,
      operation: operation('offerProcess.start'),
      rows: rowsOf([{ applicationId: application.id }]),
      reconcileDelayMs: 0,
      onResult: (r) => results.push(r),
    });
    expect(summary.counts.quarantined).toBe(1);
    expect(results[0]?.error?.code).toBe('outcome_unknown');
    await new Promise((r) => setTimeout(r, 600));
    sandbox.faults.reset();
    expect(sandbox.stats().requests['offerProcess.start']).toBe(1);
    expect(writesFor(sandbox, 'offerProcess.start', application.id)).toBe(1);
    const rerun = await pushTo(sandbox, control, 'offerProcess.start', [{ applicationId: application.id }]);
    // Still refused to resend by itself on a rerun: the ledger remembers the lost answer.
    expect(rerun.results[0]?.status).toBe('quarantined');
    expect(await listQuarantine(control.db)).toHaveLength(1);
    expect(sandbox.stats().requests['offerProcess.start']).toBe(1);
  });

  it('offer values are checked by the form’s field types before offer.create, and by Ashby after', async () => {
    const { application } = await newApplication();
    const local = await pushTo(sandbox, control, 'offerProcess.start', [
      { applicationId: application.id, ...offer, 'offer.Start date': 'next tuesday' },
    ]);
    expect(local.results[0]).toMatchObject({ status: 'quarantined', error: { path: 'offer.Start date' } });
    expect(writeRequests(sandbox, ['offer.create'])).toBe(0);

    // The 2024 form lists one option per select field, so an unknown option is Ashby's to refuse.
    const { application: other } = await newApplication();
    const remote = await pushTo(sandbox, control, 'offerProcess.start', [
      { applicationId: other.id, ...offer, 'offer.Employment type': 'Freelance' },
    ]);
    expect(remote.results[0]).toMatchObject({ status: 'quarantined', error: { code: 'invalid_input' } });
    expect(remote.results[0]?.error?.message).toMatch(/employmentType/);
    // Fixed and pushed again: the process already started is reused, not started twice.
    const fixed = await pushTo(sandbox, control, 'offerProcess.start', [
      { applicationId: other.id, ...offer },
    ]);
    expect(fixed.results[0]?.status).toBe('created');
    expect(writesFor(sandbox, 'offerProcess.start', other.id)).toBe(1);
  });
});

describe('custom fields and openings', () => {
  it('customField.setValue coerces by the field’s own type; a value outside the options never leaves', async () => {
    const c = await newCandidate();
    const field = (type: string) =>
      fx.customFields.find((f) => f.objectType === 'Candidate' && f.fieldType === type) as Ref;
    const select = fx.customFields.find((f) => f.objectType === 'Candidate' && f.fieldType === 'ValueSelect');
    const { summary, results } = await pushTo(sandbox, control, 'customField.setValue', [
      { objectId: c.id, objectType: 'Candidate', fieldId: field('Boolean').id, fieldValue: 'yes' },
      { objectId: c.id, objectType: 'Candidate', fieldId: field('Number').id, fieldValue: '42' },
      {
        objectId: c.id,
        objectType: 'Candidate',
        fieldId: field('NumberRange').id,
        fieldValue: '{"minValue":1,"maxValue":5}',
      },
      { objectId: c.id, objectType: 'Candidate', fieldId: select?.id, fieldValue: 'Not an option' },
    ]);
    expect(summary.counts).toMatchObject({ updated: 3, quarantined: 1 });
    expect(results[3]?.error?.path).toBe('fieldValue');
    expect(writesFor(sandbox, 'customField.setValue')).toBe(3);
    const values = (
      await read<{ customFields: Array<{ id: string; value: unknown }> }>('candidate.info', { id: c.id })
    ).customFields;
    expect(values.find((v) => v.id === field('Boolean').id)?.value).toBe(true);
    expect(values.find((v) => v.id === field('Number').id)?.value).toBe(42);
    expect(values.find((v) => v.id === field('NumberRange').id)?.value).toEqual({
      type: 'number-range',
      minValue: 1,
      maxValue: 5,
    });
  });

  it('opening.create: the identifier is the natural key', async () => {
    const identifier = `HC-${uniqueEmail('hc')}`;
    const first = await pushTo(sandbox, control, 'opening.create', [
      { identifier, jobIds: `["${fx.openJob.id}"]`, targetHireDate: '2026-09-01', isBackfill: 'false' },
    ]);
    expect(first.results[0]?.status).toBe('created');
    const again = await pushTo(sandbox, control, 'opening.create', [
      { identifier, description: 'another record' },
    ]);
    expect(again.results[0]).toMatchObject({ status: 'skipped-existing', id: first.results[0]?.id });
    expect(writesFor(sandbox, 'opening.create')).toBe(1);
  });
});

describe('manual mode, permissions, dry run', () => {
  it('--endpoint with a raw write body: validated by naming conventions, exactly once', async () => {
    const manual = manualOperation(getEndpoint('candidate.create'));
    const email = uniqueEmail('manual');
    const input = [
      { name: 'Manual', email },
      { name: 'Bad', email: 'not-an-email' },
    ];
    const first = await pushTo(sandbox, control, manual, input);
    expect(first.summary.counts).toMatchObject({ created: 1, quarantined: 1 });
    expect(first.results[1]?.error?.path).toBe('email');
    const second = await pushTo(sandbox, control, manual, input);
    expect(second.summary.counts['skipped-done']).toBe(1);
    expect(writesFor(sandbox, 'candidate.create', email)).toBe(1);
  });

  it('sandbox-read: the first missing permission stops the run after one write request; the rest stay pending', async () => {
    const input = Array.from({ length: 12 }, (_, i) => ({ name: `Nope ${i}`, email: uniqueEmail('nope') }));
    const { summary, results } = await pushTo(sandbox, control, 'candidate.create', input, {
      apiKey: 'sandbox-read',
      concurrency: 6,
    });
    expect(summary.stopped?.kind).toBe('permission');
    expect(summary.stopped?.message).toContain('Candidates: Write (candidatesWrite)');
    expect(summary.stopped?.message).toContain('Admin > Integrations > API Keys');
    expect(writeRequests(sandbox, ['candidate.create'])).toBe(1);
    expect(writesFor(sandbox, 'candidate.create')).toBe(0);
    expect(results.filter((r) => r.status === 'created')).toHaveLength(0);
    const counts = await ledgerCounts(control.db, 'candidate.create');
    expect(counts.done + counts.failed + counts['in-flight']).toBe(0);
    expect(await listQuarantine(control.db)).toHaveLength(0);
  });

  it('dry run: look-ups run, no write request is sent, the would-be bodies are reported', async () => {
    const email = uniqueEmail('dry');
    const { summary, results } = await pushTo(
      sandbox,
      control,
      'candidate.create',
      [
        { name: 'Dry', email },
        { name: 'Dry 2', email: 'broken' },
      ],
      { dryRun: true },
    );
    expect(summary.counts).toMatchObject({ 'dry-run': 1, quarantined: 1 });
    expect(results[0]?.wouldSend).toEqual({ endpoint: 'candidate.create', body: { name: 'Dry', email } });
    const { requests } = sandbox.stats();
    expect(requests['candidate.search']).toBe(1);
    expect(Object.keys(sandbox.stats().writes)).toHaveLength(0);
    expect(writeRequests(sandbox, ['candidate.create', 'candidate.update'])).toBe(0);
    expect(await listQuarantine(control.db)).toHaveLength(0);
  });
});
