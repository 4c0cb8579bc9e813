import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { startServer } from '../../src/server/index.js';
import { asJson, type Harness, harness, signedInHeaders } from './helpers.js';

// `GET /metrics` after a real sync engine run against the sandbox: the series are compared with what the
// sandbox itself counted and with its world, never with the metrics code's own arithmetic.
const SCALE = 120;
/** Ashby's default (and the sync's) page size. */
const PAGE_SIZE = 100;
/** The key the sandbox accepts for everything; it must never show in the exposition. */
const KEY = 'sandbox-full';

let sandbox: Sandbox;
let h: Harness | undefined;
beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, scale: SCALE });
});
afterAll(async () => {
  await sandbox.close();
});
afterEach(async () => {
  sandbox.faults.reset();
  await h?.close();
  h = undefined;
});

/** One sample of the exposition: `name{a="x",b="y"} value`. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k ?? ''] = v ?? '';
    samples.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `where`. */
function sum(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

async function sourceFlow(
  harnessed: Harness,
  name: string,
): Promise<{
  flowId: string;
  credentialId: string;
  call: (method: string, p: string, body?: unknown) => Promise<Response>;
}> {
  const headers = await signedInHeaders(harnessed);
  const call = async (method: string, p: string, body?: unknown) =>
    harnessed.request(p, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const cred = await call('POST', '/api/v1/credentials', { name: 'metrics key', apiKey: KEY });
  expect(cred.status).toBe(201);
  const credentialId = (await cred.json().then(asJson)).credential.id;
  const created = await call('POST', '/api/v1/flows', {
    kind: 'source',
    name,
    credentialId,
    streams: ['candidates', 'sources'],
    target: { type: 'sqlite', path: path.join(harnessed.data, `${name}.db`) },
  });
  expect(created.status).toBe(201);
  return { flowId: (await created.json().then(asJson)).flow.id, credentialId, call };
}

async function runToEnd(
  harnessed: Harness,
  call: (method: string, p: string) => Promise<Response>,
  flowId: string,
): Promise<{ status: string; finishedAt: string }> {
  const started = await call('POST', `/api/v1/flows/${flowId}/run`);
  expect(started.status).toBe(202);
  const runId = (await started.json().then(asJson)).run.id;
  const run = await harnessed.deps.scheduler.waitFor(runId);
  if (!run?.finishedAt) throw new Error('the run did not finish');
  return { status: run.status, finishedAt: run.finishedAt };
}

async function scrape(harnessed: Harness, init?: RequestInit): Promise<string> {
  const res = await harnessed.request('/metrics', init);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

describe('GET /metrics', () => {
  it('counts the requests, records and runs of a source flow as the sandbox saw them', async () => {
    h = await harness({ baseUrl: sandbox.url, realSource: true, allowHttpBaseUrl: true });
    const { flowId, credentialId, call } = await sourceFlow(h, 'nightly');
    sandbox.resetStats();
    const run = await runToEnd(h, call, flowId);
    expect(run.status).toBe('succeeded');

    // Hand count: a flow reads archived records too (the default); one page per 100 records, one for none.
    const candidates = sandbox.records('candidate.list', {
      apiKey: KEY,
      body: { includeArchived: true },
    }).length;
    const sources = sandbox.records('source.list', { apiKey: KEY, body: { includeArchived: true } }).length;
    expect(candidates).toBeGreaterThan(PAGE_SIZE);
    const candidatePages = Math.max(1, Math.ceil(candidates / PAGE_SIZE));
    const sourcePages = Math.max(1, Math.ceil(sources / PAGE_SIZE));

    const text = await scrape(h);
    const samples = parse(text);
    expect(sum(samples, 'ashpipe_ashby_requests_total', { endpoint: 'candidate.list', status: '200' })).toBe(
      candidatePages,
    );
    expect(sum(samples, 'ashpipe_ashby_requests_total', { endpoint: 'source.list', status: '200' })).toBe(
      sourcePages,
    );
    // Every request the sandbox answered, by endpoint, is counted once.
    const seen = sandbox.stats().requests;
    for (const [endpoint, n] of Object.entries(seen))
      expect(sum(samples, 'ashpipe_ashby_requests_total', { endpoint }), endpoint).toBe(n);
    expect(sum(samples, 'ashpipe_ashby_requests_total')).toBe(Object.values(seen).reduce((a, b) => a + b, 0));

    const flow = { flow: 'nightly', flow_id: flowId };
    expect(sum(samples, 'ashpipe_records_read_total', { ...flow, stream: 'candidates' })).toBe(candidates);
    expect(sum(samples, 'ashpipe_records_read_total', { ...flow, stream: 'sources' })).toBe(sources);
    expect(sum(samples, 'ashpipe_records_written_total', { ...flow, stream: 'candidates' })).toBe(candidates);
    expect(sum(samples, 'ashpipe_flow_runs_total', { ...flow, outcome: 'succeeded' })).toBe(1);
    expect(sum(samples, 'ashpipe_flow_runs_total', { ...flow, outcome: 'failed' })).toBe(0);
    expect(sum(samples, 'ashpipe_flow_run_duration_seconds_count', flow)).toBe(1);
    expect(sum(samples, 'ashpipe_flow_run_duration_seconds_bucket', { ...flow, le: '+Inf' })).toBe(1);
    // Nothing was rate limited.
    expect(sum(samples, 'ashpipe_ashby_rate_limited_total', { credential_id: credentialId })).toBe(0);

    // Freshness: from the run's end as the store recorded it, and growing while nothing runs.
    const fresh1 = sum(samples, 'ashpipe_flow_seconds_since_last_success', flow);
    const age1 = (Date.now() - Date.parse(run.finishedAt)) / 1000;
    expect(fresh1).toBeGreaterThanOrEqual(0);
    expect(Math.abs(fresh1 - age1)).toBeLessThan(1);
    await new Promise((r) => setTimeout(r, 1_200));
    const fresh2 = sum(parse(await scrape(h)), 'ashpipe_flow_seconds_since_last_success', flow);
    expect(fresh2 - fresh1).toBeGreaterThanOrEqual(1);

    // The API key never appears; the credential is named by its name and id.
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(Buffer.from(`${KEY}:`).toString('base64'));
  }, 60_000);

  it('counts 429s and Retry-After seconds by credential name and id, never by key', async () => {
    h = await harness({ baseUrl: sandbox.url, realSource: true, allowHttpBaseUrl: true });
    const { flowId, credentialId, call } = await sourceFlow(h, 'throttled');
    sandbox.resetStats();
    // Four requests per second: every wait is under a second, so each 429 says `Retry-After: 1`.
    sandbox.faults.set({ rateLimit: { rps: 4, burst: 1 } });
    const run = await runToEnd(h, call, flowId);
    expect(run.status).toBe('succeeded');
    const stats = sandbox.stats();
    expect(stats.rateLimited).toBeGreaterThan(0);

    const text = await scrape(h);
    const samples = parse(text);
    const key = { credential: 'metrics key', credential_id: credentialId };
    expect(sum(samples, 'ashpipe_ashby_rate_limited_total', key)).toBe(stats.rateLimited);
    expect(sum(samples, 'ashpipe_ashby_retry_after_seconds_total', key)).toBe(stats.rateLimited * 1);
    expect(
      sum(samples, 'ashpipe_ashby_requests_total', { status: '429', error_code: 'rate_limit_exceeded' }),
    ).toBe(stats.responses['429']);
    expect(text).not.toContain(KEY);
  }, 60_000);

  it('counts the writes of a destination flow as the sandbox saw them', async () => {
    h = await harness({ baseUrl: sandbox.url, realDestination: true, allowHttpBaseUrl: true });
    const headers = await signedInHeaders(h);
    const harnessed = h;
    const call = async (method: string, p: string, body?: unknown) =>
      harnessed.request(p, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const cred = await call('POST', '/api/v1/credentials', { name: 'writer', apiKey: KEY });
    const credentialId = (await cred.json().then(asJson)).credential.id;
    // Three new people, written by hand: three creates.
    const csv =
      'Full Name,Email\nAda Metric,ada.metrics@example.com\nBo Metric,bo.metrics@example.com\nCy Metric,cy.metrics@example.com\n';
    const created = await call('POST', '/api/v1/flows', {
      kind: 'destination',
      name: 'import',
      credentialId,
      operation: 'candidate.create',
      input: { type: 'csv', content: csv },
      mapping: { name: 'Full Name', email: 'Email' },
    });
    expect(created.status).toBe(201);
    const flowId = (await created.json().then(asJson)).flow.id;
    sandbox.resetStats();
    const run = await runToEnd(harnessed, call, flowId);
    expect(run.status).toBe('succeeded');
    const samples = parse(await scrape(harnessed));
    const seen = sandbox.stats().requests;
    expect(sandbox.stats().writes['candidate.create']).toBe(3);
    for (const [endpoint, n] of Object.entries(seen))
      expect(sum(samples, 'ashpipe_ashby_requests_total', { endpoint }), endpoint).toBe(n);
    const flow = { flow: 'import', flow_id: flowId, stream: 'candidate.create' };
    expect(sum(samples, 'ashpipe_records_read_total', flow)).toBe(3);
    expect(sum(samples, 'ashpipe_records_written_total', flow)).toBe(3);
  }, 60_000);

  it('is served to this machine without a token, and elsewhere only with an API token', async () => {
    h = await harness();
    const headers = await signedInHeaders(h);
    const remote = { incoming: { socket: { remoteAddress: '203.0.113.9' } } };
    const fromLoopback = { incoming: { socket: { remoteAddress: '::ffff:127.0.0.1' } } };
    expect((await h.app.request('/metrics', {}, fromLoopback)).status).toBe(200);

    const refused = await h.app.request('/metrics', {}, remote);
    expect(refused.status).toBe(401);
    expect((await refused.json().then(asJson)).error.message).toContain('API token');
    const wrong = await h.app.request('/metrics', { headers: { authorization: 'Bearer ashp_nope' } }, remote);
    expect(wrong.status).toBe(401);

    const created = await h.request('/api/v1/tokens', {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'prometheus' }),
    });
    expect(created.status).toBe(201);
    const token = (await created.json().then(asJson)).plaintext as string;
    const allowed = await h.app.request(
      '/metrics',
      { headers: { authorization: `Bearer ${token}` } },
      remote,
    );
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toContain('# TYPE ashpipe_flow_runs_total counter');
    // A console session is not enough from elsewhere: Prometheus sends tokens, browsers do not scrape.
    expect((await h.app.request('/metrics', { headers: { cookie: headers.cookie } }, remote)).status).toBe(
      401,
    );
  });

  it('asks this machine for a token too with --metrics token, and has no route with off', async () => {
    const loopback = { incoming: { socket: { remoteAddress: '127.0.0.1' } } };
    h = await harness({ metrics: 'token' });
    expect((await h.app.request('/metrics', {}, loopback)).status).toBe(401);
    await h.close();
    h = await harness({ metrics: 'off' });
    expect((await h.app.request('/metrics', {}, loopback)).status).toBe(404);
  });

  it('answers a real loopback connection of `ashpipe serve` without a token', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-metrics-'));
    const server = await startServer({ home, env: {}, port: 0, host: '127.0.0.1' });
    try {
      const res = await fetch(`${server.url}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('# HELP ashpipe_ashby_requests_total');
      expect((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer x' } })).status).toBe(
        401,
      );
    } finally {
      await server.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
