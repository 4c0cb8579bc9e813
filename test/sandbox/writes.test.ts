import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { call, code, message } from './helpers.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ scale: 100 });
});
afterAll(() => sandbox.close());

describe('write validation', () => {
  it('names the missing or malformed field', async () => {
    const noName = await call(sandbox, 'candidate.create', { email: 'a@example.com' });
    expect(code(noName)).toBe('invalid_input');
    expect(message(noName)).toContain('"name"');
    const badEmail = await call(sandbox, 'candidate.create', { name: 'A', email: 'not-an-email' });
    expect(message(badEmail)).toContain('"email"');
    const badUuid = await call(sandbox, 'candidate.update', { candidateId: 'nope' });
    expect(message(badUuid)).toContain('"candidateId"');
    const missing = await call(sandbox, 'candidate.update', {
      candidateId: '00000000-0000-4000-8000-000000000000',
    });
    expect(code(missing)).toBe('candidate_not_found');
    const badEnum = await call(sandbox, 'job.setStatus', {
      jobId: '00000000-0000-4000-8000-000000000000',
      status: 'Paused',
    });
    expect(message(badEnum)).toContain('"status"');
  });

  it('counts creates per email in stats', async () => {
    sandbox.resetStats();
    await call(sandbox, 'candidate.create', { name: 'Twice', email: 'Twice@Example.com' });
    await call(sandbox, 'candidate.create', { name: 'Twice', email: 'twice@example.com' });
    await call(sandbox, 'candidate.create', { name: 'Once', email: 'once@example.com' });
    const stats = sandbox.stats();
    expect(stats.writes['candidate.create']).toBe(3);
    expect(stats.writesByKey['candidate.create']?.['twice@example.com']).toBe(2);
    const found = await call(sandbox, 'candidate.search', { email: 'twice@example.com' });
    expect((found.body.results as unknown[]).length).toBe(2);
  });
});

describe('job.setStatus', () => {
  it('enforces Draft→Open|Archived, Open→Closed, Closed→Draft|Archived, Archived→Draft', async () => {
    const [department] = sandbox.records('department.list') as Array<{ id: string }>;
    const [location] = sandbox.records('location.list') as Array<{ id: string }>;
    const job = await call(sandbox, 'job.create', {
      title: 'Ünïcødé engineer',
      teamId: department?.id,
      locationId: location?.id,
    });
    const jobId = (job.body.results as { id: string; status: string }).id;
    expect((job.body.results as { status: string }).status).toBe('Draft');
    const to = (status: string) => call(sandbox, 'job.setStatus', { jobId, status });
    expect(code(await to('Closed'))).toBe('invalid_input');
    expect((await to('Open')).body.success).toBe(true);
    expect(code(await to('Draft'))).toBe('invalid_input');
    expect((await to('Closed')).body.success).toBe(true);
    expect((await to('Archived')).body.success).toBe(true);
    expect(code(await to('Open'))).toBe('invalid_input');
    expect((await to('Draft')).body.success).toBe(true);
  });
});

describe('offers', () => {
  it('runs the 3-step flow and checks field submissions against the form', async () => {
    const [app] = sandbox.records('application.list') as Array<{ id: string }>;
    const process = await call(sandbox, 'offerProcess.start', { applicationId: app?.id });
    const processId = (process.body.results as { id: string; status: string }).id;
    expect((process.body.results as { status: string }).status).toBe('WaitingOnOfferCreation');
    const start = await call(sandbox, 'offer.start', { offerProcessId: processId });
    const form = start.body.results as {
      id: string;
      formDefinition: { sections: Array<{ fields: Array<{ field: { path: string; type: string } }> }> };
    };
    const types = form.formDefinition.sections.flatMap((s) => s.fields.map((f) => f.field.type));
    expect(new Set(types)).toEqual(
      new Set(['Boolean', 'Currency', 'Date', 'Number', 'String', 'ValueSelect', 'MultiValueSelect']),
    );

    const bad = await call(sandbox, 'offer.create', {
      offerProcessId: processId,
      offerFormId: form.id,
      offerForm: { fieldSubmissions: [{ path: 'salary', value: 100000 }] },
    });
    expect(code(bad)).toBe('invalid_input');
    expect(message(bad)).toContain('salary');

    const ok = await call(sandbox, 'offer.create', {
      offerProcessId: processId,
      offerFormId: form.id,
      offerForm: {
        fieldSubmissions: [
          { path: 'salary', value: { currencyCode: 'USD', value: 100000 } },
          { path: 'startDate', value: '2026-01-05' },
          { path: 'employmentType', value: 'FullTime' },
          { path: 'benefits', value: ['Health', 'Dental'] },
        ],
      },
    });
    expect(ok.body.success).toBe(true);
    const offer = ok.body.results as { id: string; applicationId: string };
    expect(offer.applicationId).toBe(app?.id);
    const listed = sandbox.records('offer.list', { body: { applicationId: app?.id } }) as Array<{
      id: string;
    }>;
    expect(listed.map((o) => o.id)).toContain(offer.id);
  });
});
