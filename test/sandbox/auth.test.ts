import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { call, code, message } from './helpers.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({
    scale: 200,
    keys: [
      { key: 'key-deactivated-123', scopes: ['candidatesRead'], confidential: false, deactivated: true },
      { key: 'key-jobs-only-456', title: 'Jobs only', scopes: ['jobsRead'], confidential: false },
    ],
  });
});
afterAll(() => sandbox.close());

describe('authentication and permissions', () => {
  it('answers 401 with the error envelope when no key is sent', async () => {
    const a = await call(sandbox, 'candidate.list', {}, null);
    expect(a.status).toBe(401);
    expect(a.body.success).toBe(false);
    expect(a.body.errors).toEqual([code(a)]);
    expect((a.body.errorInfo as { requestId: string }).requestId).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('answers 401 for an empty username', async () => {
    expect((await call(sandbox, 'candidate.list', {}, '')).status).toBe(401);
  });

  it('answers 403 for an unknown key and for a deactivated key, never echoing the key', async () => {
    const unknown = await call(sandbox, 'candidate.list', {}, 'not-a-real-key-789');
    expect(unknown.status).toBe(403);
    expect(JSON.stringify(unknown.body)).not.toContain('not-a-real-key-789');
    const deactivated = await call(sandbox, 'candidate.list', {}, 'key-deactivated-123');
    expect(deactivated.status).toBe(403);
    expect(JSON.stringify(deactivated.body)).not.toContain('key-deactivated-123');
  });

  it('answers 403 missing_endpoint_permission naming the scope and module', async () => {
    const a = await call(sandbox, 'candidate.create', { name: 'X' }, 'sandbox-read');
    expect(a.status).toBe(403);
    expect(code(a)).toBe('missing_endpoint_permission');
    expect(message(a)).toContain('candidatesWrite');
    expect(message(a)).toContain('Candidates: Write');
    const b = await call(sandbox, 'candidate.list', {}, 'key-jobs-only-456');
    expect(code(b)).toBe('missing_endpoint_permission');
    expect((await call(sandbox, 'job.list', {}, 'key-jobs-only-456')).body.success).toBe(true);
  });

  it('apiKey.info returns title and scopes in the 2026 form', async () => {
    const a = await call(sandbox, 'apiKey.info', {}, 'sandbox-read');
    const results = a.body.results as { title: string; scopes: string[] };
    expect(results.title).toBe('Sandbox read only');
    expect(results.scopes).toContain('candidates:read');
    expect(results.scopes).not.toContain('candidates:write');
  });
});

describe('confidential access', () => {
  it('hides confidential jobs, their applications and candidates only on them from keys without access', () => {
    const allJobs = sandbox.records('job.list') as Array<{ id: string; confidential: boolean }>;
    const readJobs = sandbox.records('job.list', { apiKey: 'sandbox-read' }) as Array<{
      id: string;
      confidential: boolean;
    }>;
    expect(allJobs.some((j) => j.confidential)).toBe(true);
    expect(readJobs.some((j) => j.confidential)).toBe(false);
    expect(readJobs.length).toBe(allJobs.filter((j) => !j.confidential).length);

    const confidentialJobs = new Set(allJobs.filter((j) => j.confidential).map((j) => j.id));
    const apps = sandbox.records('application.list') as Array<{
      id: string;
      job: { id: string };
      candidate: { id: string };
    }>;
    const readApps = sandbox.records('application.list', { apiKey: 'sandbox-read' }) as typeof apps;
    expect(readApps.some((a) => confidentialJobs.has(a.job.id))).toBe(false);
    expect(readApps.length).toBe(apps.filter((a) => !confidentialJobs.has(a.job.id)).length);

    const candidates = sandbox.records('candidate.list') as Array<{ id: string; applicationIds: string[] }>;
    const readCandidates = new Set(
      (sandbox.records('candidate.list', { apiKey: 'sandbox-read' }) as typeof candidates).map((c) => c.id),
    );
    const appJob = new Map(apps.map((a) => [a.id, a.job.id]));
    const onlyConfidential = candidates.filter(
      (c) =>
        c.applicationIds.length > 0 &&
        c.applicationIds.every((a) => confidentialJobs.has(appJob.get(a) ?? '')),
    );
    expect(onlyConfidential.length).toBeGreaterThan(0);
    for (const c of candidates) expect(readCandidates.has(c.id)).toBe(!onlyConfidential.includes(c));
  });

  it('answers *_not_found with success:false for a confidential record via info', async () => {
    const job = (sandbox.records('job.list') as Array<{ id: string; confidential: boolean }>).find(
      (j) => j.confidential,
    );
    const a = await call(sandbox, 'job.info', { id: job?.id }, 'sandbox-read');
    expect(a.status).toBe(200);
    expect(a.body.success).toBe(false);
    expect(code(a)).toBe('job_not_found');
    expect((await call(sandbox, 'job.info', { id: job?.id })).body.success).toBe(true);
  });
});
