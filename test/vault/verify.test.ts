import { describe, expect, it } from 'vitest';
import type { Scope } from '../../src/ashby/catalogue.js';
import { getEndpoint } from '../../src/ashby/catalogue.js';
import { AshbyClient } from '../../src/ashby/client.js';
import { permissionsFromScopes, permissionWarnings, verifyKey } from '../../src/vault/verify.js';

/** A tiny stand-in for Ashby's permission checks, behind the client's injectable fetch. */
function fakeAshby(options: {
  valid?: boolean;
  scopes: Scope[];
  infoScopes?: string[];
  jobs?: Array<{ id: string; confidential: boolean }>;
}) {
  const calls: string[] = [];
  const fetchImpl = (async (input: string | URL | Request) => {
    const endpoint = new URL(String(input)).pathname.slice(1);
    calls.push(endpoint);
    const json = (status: number, body: unknown) =>
      new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    if (options.valid === false) return json(403, { success: false, errors: ['invalid api key'] });
    const scope = getEndpoint(endpoint).scope;
    if (scope && !options.scopes.includes(scope)) {
      return json(403, {
        success: false,
        errors: ['missing_endpoint_permission'],
        errorInfo: { code: 'missing_endpoint_permission', message: 'Missing permission', requestId: 'r1' },
      });
    }
    if (endpoint === 'apiKey.info') {
      return json(200, {
        success: true,
        results: { title: 'Data warehouse', ...(options.infoScopes ? { scopes: options.infoScopes } : {}) },
      });
    }
    if (endpoint === 'job.list')
      return json(200, { success: true, results: options.jobs ?? [], moreDataAvailable: false });
    return json(200, { success: true, results: [], moreDataAvailable: false });
  }) as typeof fetch;
  let n = 0;
  const client = () =>
    new AshbyClient({
      apiKey: `fake-key-${++n}-000000`,
      baseUrl: 'http://ashby.invalid',
      fetch: fetchImpl,
      retry: { limit: 1 },
    });
  return { calls, client };
}

const READS: Scope[] = [
  'candidatesRead',
  'jobsRead',
  'interviewsRead',
  'offersRead',
  'hiringProcessMetadataRead',
  'organizationRead',
  'approvalsRead',
];

describe('verifyKey', () => {
  it('probes each module with its cheapest read when apiKey.info is not allowed', async () => {
    const ashby = fakeAshby({ scopes: ['candidatesRead', 'jobsRead'] });
    const v = await verifyKey(ashby.client());
    expect(v.status).toBe('valid');
    expect(v.title).toBeUndefined();
    const read = Object.fromEntries(v.permissions.map((p) => [p.module, p.read]));
    expect(read).toEqual({
      Candidates: 'allowed',
      Jobs: 'allowed',
      Interviews: 'missing',
      Offers: 'missing',
      'Hiring Process': 'missing',
      Organization: 'missing',
      'API Keys': 'missing',
      Approvals: 'missing',
      Reports: 'unknown',
    });
    expect(v.permissions.every((p) => p.write === 'unknown')).toBe(true);
    expect(ashby.calls).toEqual(
      expect.arrayContaining([
        'candidate.list',
        'job.list',
        'interviewPlan.list',
        'offer.list',
        'source.list',
        'user.list',
        'approval.list',
      ]),
    );
    expect(v.warnings.join('\n')).toMatch(/No read access to Interviews, Offers/);
    expect(v.warnings.join('\n')).toMatch(
      /may fail: Candidates: Write \(candidatesWrite\) cannot be checked without changing data: Create Candidate \(candidate\.create\), Update Candidate/,
    );
    expect(v.warnings.join('\n')).toMatch(/Admin > Integrations > API Keys/);
  });

  it('takes title and write scopes from apiKey.info when the key may call it', async () => {
    const ashby = fakeAshby({
      scopes: [...READS, 'apiKeysRead'],
      infoScopes: ['candidates:read', 'candidates:write', 'jobs:read', 'apiKeys:read'],
    });
    const v = await verifyKey(ashby.client());
    expect(v.title).toBe('Data warehouse');
    expect(v.permissions.find((p) => p.module === 'Candidates')).toMatchObject({
      read: 'allowed',
      write: 'allowed',
    });
    expect(v.permissions.find((p) => p.module === 'Jobs')).toMatchObject({
      read: 'allowed',
      write: 'missing',
    });
    expect(ashby.calls).not.toContain('candidate.list');
    const text = v.warnings.join('\n');
    expect(text).toMatch(
      /will fail: the key lacks Jobs: Write \(jobsWrite\): Create Job \(job\.create\), Update Job \(job\.update\)/,
    );
    expect(text).not.toMatch(/Create Candidate/);
  });

  it('reports confidential access only when a confidential job is visible', async () => {
    const yes = await verifyKey(
      fakeAshby({
        scopes: READS,
        jobs: [
          { id: 'j1', confidential: false },
          { id: 'j2', confidential: true },
        ],
      }).client(),
    );
    expect(yes.confidential).toBe('yes');
    const unknown = await verifyKey(
      fakeAshby({ scopes: READS, jobs: [{ id: 'j1', confidential: false }] }).client(),
    );
    expect(unknown.confidential).toBe('unknown');
  });

  it('stops at an invalid key', async () => {
    const ashby = fakeAshby({ valid: false, scopes: READS });
    const v = await verifyKey(ashby.client());
    expect(v.status).toBe('invalid');
    expect(v.message).toMatch(/refused/);
    expect(ashby.calls).toEqual(['apiKey.info']);
  });

  it('reports an error, not a verdict, when Ashby cannot be reached properly', async () => {
    const fetchImpl = (async () => new Response('<html>Bad gateway</html>', { status: 502 })) as typeof fetch;
    const v = await verifyKey(
      new AshbyClient({
        apiKey: 'fake-key-502-000000',
        baseUrl: 'http://ashby.invalid',
        fetch: fetchImpl,
        retry: { limit: 1 },
      }),
    );
    expect(v.status).toBe('error');
    expect(v.message).toMatch(/502|Bad gateway|server/i);
    expect(v.permissions.filter((p) => p.module !== 'Reports').every((p) => p.read === 'error')).toBe(true);
  });

  it('maps scopes to modules and warns per destination operation', () => {
    const perms = permissionsFromScopes(['hiringProcessMetadata:read', 'offers:write']);
    expect(perms.find((p) => p.module === 'Hiring Process')?.read).toBe('allowed');
    expect(perms.find((p) => p.module === 'Offers')).toMatchObject({ read: 'missing', write: 'allowed' });
    const warnings = permissionWarnings(perms).join('\n');
    expect(warnings).toMatch(
      /will fail: the key lacks Candidates: Write \(candidatesWrite\): .*Change Application Stage \(application\.changeStage\)/,
    );
    expect(warnings).not.toMatch(/Start Offer Process/);
  });
});
