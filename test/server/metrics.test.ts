import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { limiterFor } from '../../src/ashby/limiter.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { createApp } from '../../src/server/app.js';
import { startServer } from '../../src/server/index.js';
import type { Flow } from '../../src/server/model.js';
import { WebhookHub } from '../../src/server/webhooks.js';
import { openSink } from '../../src/sinks/index.js';
import { Vault } from '../../src/vault/vault.js';
import { signBody } from '../../src/webhooks/index.js';
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

    // Freshness per stream: both streams succeeded in that run.
    for (const stream of ['candidates', 'sources']) {
      const fresh = sum(samples, 'ashpipe_stream_seconds_since_last_success', { ...flow, stream });
      expect(fresh, stream).toBeGreaterThanOrEqual(0);
      expect(Math.abs(fresh - age1), stream).toBeLessThan(1);
    }
    const streamsSeen = samples
      .filter((s) => s.name === 'ashpipe_stream_seconds_since_last_success' && s.labels.flow_id === flowId)
      .map((s) => s.labels.stream)
      .sort();
    expect(streamsSeen).toEqual(['candidates', 'sources']);
    // The credential's limiter, idle after the run; no rate learned without a 429.
    const key = { credential: 'metrics key', credential_id: credentialId };
    expect(
      samples.filter(
        (s) => s.name === 'ashpipe_limiter_queued_requests' && s.labels.credential_id === credentialId,
      ),
    ).toHaveLength(1);
    expect(sum(samples, 'ashpipe_limiter_queued_requests', key)).toBe(0);
    expect(sum(samples, 'ashpipe_limiter_in_flight_requests', key)).toBe(0);

    // The API key never appears; the credential is named by its name and id.
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(Buffer.from(`${KEY}:`).toString('base64'));
  }, 60_000);

  it('counts 429s and Retry-After seconds by credential name and id, never by key', async () => {
    h = await harness({ baseUrl: sandbox.url, realSource: true, allowHttpBaseUrl: true });
    const { flowId, credentialId, call } = await sourceFlow(h, 'throttled');
    sandbox.resetStats();
    // Two requests per second (slow enough that a loaded machine still runs into it): every wait is under
    // a second, so each 429 says `Retry-After: 1`.
    sandbox.faults.set({ rateLimit: { rps: 2, burst: 1 } });
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
    // The 429s taught the key's limiter a rate: the series shows the limiter's own figure.
    const learned = samples.filter(
      (s) =>
        s.name === 'ashpipe_limiter_learned_requests_per_second' && s.labels.credential_id === credentialId,
    );
    expect(learned).toHaveLength(1);
    expect(learned[0]?.value).toBeGreaterThan(0);
    expect(learned[0]?.value).toBe(limiterFor(KEY).stats().learnedRequestsPerSecond);
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
    // Three new people, written by hand, and a row without a name (quarantined, never sent).
    const csv =
      'Full Name,Email\nAda Metric,ada.metrics@example.com\nBo Metric,bo.metrics@example.com\nCy Metric,cy.metrics@example.com\n,nameless.metrics@example.com\n';
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
    // The quarantined row makes the run partial; the three others are written.
    expect(run.status).toBe('partial');
    const samples = parse(await scrape(harnessed));
    const seen = sandbox.stats().requests;
    expect(sandbox.stats().writes['candidate.create']).toBe(3);
    for (const [endpoint, n] of Object.entries(seen))
      expect(sum(samples, 'ashpipe_ashby_requests_total', { endpoint }), endpoint).toBe(n);
    const flow = { flow: 'import', flow_id: flowId, stream: 'candidate.create' };
    expect(sum(samples, 'ashpipe_records_read_total', flow)).toBe(4);
    expect(sum(samples, 'ashpipe_records_written_total', flow)).toBe(3);
    const push = { flow: 'import', flow_id: flowId, operation: 'candidate.create' };
    expect(sum(samples, 'ashpipe_push_records_total', { ...push, outcome: 'applied' })).toBe(3);
    expect(sum(samples, 'ashpipe_push_records_total', { ...push, outcome: 'quarantined' })).toBe(1);
    expect(sum(samples, 'ashpipe_push_records_total', { ...push, outcome: 'skipped' })).toBe(0);

    // The same input again: the ledger knows the three, Ashby is not written to.
    sandbox.resetStats();
    expect((await runToEnd(harnessed, call, flowId)).status).toBe('partial');
    expect(sandbox.stats().writes['candidate.create'] ?? 0).toBe(0);
    const again = parse(await scrape(harnessed));
    expect(sum(again, 'ashpipe_push_records_total', { ...push, outcome: 'applied' })).toBe(3);
    expect(sum(again, 'ashpipe_push_records_total', { ...push, outcome: 'skipped' })).toBe(3);
    expect(sum(again, 'ashpipe_push_records_total', { ...push, outcome: 'quarantined' })).toBe(2);
  }, 60_000);

  it('counts syncToken resets by stream and reason', async () => {
    h = await harness({ baseUrl: sandbox.url, realSource: true, allowHttpBaseUrl: true });
    const headers = await signedInHeaders(h);
    const harnessed = h;
    const call = async (method: string, p: string, body?: unknown) =>
      harnessed.request(p, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const credentialId = (
      await call('POST', '/api/v1/credentials', { name: 'tokens', apiKey: KEY })
        .then((r) => r.json())
        .then(asJson)
    ).credential.id;
    const target = { type: 'sqlite', path: path.join(harnessed.data, 'tokens.db') };
    const flowOf = async (name: string, options: Record<string, unknown>) => {
      const res = await call('POST', '/api/v1/flows', {
        kind: 'source',
        name,
        credentialId,
        streams: ['candidates'],
        target,
        options,
      });
      expect(res.status).toBe(201);
      return (await res.json().then(asJson)).flow.id as string;
    };
    const nightly = await flowOf('tokens nightly', {});
    const resets = async (where: Record<string, string>) =>
      sum(parse(await scrape(harnessed)), 'ashpipe_sync_token_resets_total', where);

    // A first sync has no token to reset.
    expect((await runToEnd(harnessed, call, nightly)).status).toBe('succeeded');
    expect(await resets({})).toBe(0);
    // Ashby refuses the stored token once: the pass starts over in full.
    sandbox.faults.set({ expireSyncTokenOnce: true });
    expect((await runToEnd(harnessed, call, nightly)).status).toBe('succeeded');
    expect(await resets({ flow_id: nightly, stream: 'candidates', reason: 'sync_token_expired' })).toBe(1);
    expect(await resets({})).toBe(1);
    // A flow asking for full passes leaves the token the target holds unused.
    const full = await flowOf('tokens full', { fullRefresh: true });
    expect((await runToEnd(harnessed, call, full)).status).toBe('succeeded');
    expect(await resets({ flow_id: full, stream: 'candidates', reason: 'full_refresh' })).toBe(1);
    expect(await resets({})).toBe(2);
  }, 60_000);

  it('counts webhook events received, applied and parked, and their lag', async () => {
    const secret = 'whsec-metrics-0123456789abcdef';
    h = await harness({ baseUrl: sandbox.url, realSource: true, allowHttpBaseUrl: true });
    // One attempt before an event is parked, so a parked event needs no backoff.
    const hub = new WebhookHub(h.deps, { applier: { maxAttempts: 1, pollMs: 20, retryBaseMs: 10 } });
    const app = createApp(h.deps, { webhookHub: hub });
    const loopback = { incoming: { socket: { remoteAddress: '127.0.0.1' } } };
    const headers = await signedInHeaders(h);
    const post = async (p: string, body: unknown) =>
      (await (
        await app.request(p, { method: 'POST', headers, body: JSON.stringify(body) })
      ).json()) as unknown;
    const credentialId = asJson(await post('/api/v1/credentials', { name: 'hooks', apiKey: KEY })).credential
      .id;
    await new Vault(h.typed, {
      home: h.home,
      env: { ASHPIPE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') },
    }).add({
      name: 'hooks:webhook-secret',
      apiKey: secret,
    });
    // A JSONL target: its stream files take one writer at a time, so a held stream parks events.
    const dir = path.join(h.data, 'hooks');
    const flowId = asJson(
      await post('/api/v1/flows', {
        kind: 'source',
        name: 'live',
        credentialId,
        streams: ['applications'],
        target: { type: 'jsonl', path: dir },
        options: { webhooks: true },
      }),
    ).flow.id as string;
    const deliver = (body: string, signature = signBody(body, secret)) =>
      app.request(`http://localhost/webhooks/ashby/${flowId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'ashby-signature': signature },
        body,
      });
    const event = (n: number) =>
      JSON.stringify({
        webhookActionId: `metrics-${n}`,
        action: 'applicationUpdate',
        data: {
          application: { id: `app-metrics-${n}`, status: 'Active', updatedAt: '2026-02-01T00:00:00.000Z' },
        },
      });
    const flow = { flow: 'live', flow_id: flowId };
    const samples = async () => parse(await (await app.request('/metrics', {}, loopback)).text());
    const until = async (name: string, value: number) => {
      for (let i = 0; i < 200; i++) {
        if (sum(await samples(), name, flow) >= value) return;
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    try {
      // By hand: two events stored, one of them delivered twice, one with a wrong signature, one action
      // ashpipe does not apply.
      expect((await deliver(event(1))).status).toBe(200);
      expect((await deliver(event(2))).status).toBe(200);
      expect((await deliver(event(1))).status).toBe(200);
      expect((await deliver(event(3), signBody(event(3), 'not the secret'))).status).toBe(401);
      const unknown = JSON.stringify({ webhookActionId: 'metrics-x', action: 'somethingElse', data: {} });
      expect((await deliver(unknown)).status).toBe(200);
      await until('ashpipe_webhook_events_applied_total', 2);
      let s = await samples();
      const received = (result: string) =>
        sum(s, 'ashpipe_webhook_events_received_total', { ...flow, result });
      expect(received('stored')).toBe(2);
      expect(received('duplicate')).toBe(1);
      expect(received('refused')).toBe(1);
      expect(received('ignored')).toBe(1);
      expect(sum(s, 'ashpipe_webhook_events_applied_total', flow)).toBe(2);
      expect(sum(s, 'ashpipe_webhook_events_parked_total', flow)).toBe(0);
      expect(sum(s, 'ashpipe_webhook_event_lag_seconds_count', flow)).toBe(2);
      const lag = sum(s, 'ashpipe_webhook_event_lag_seconds_sum', flow);
      expect(lag).toBeGreaterThanOrEqual(0);
      expect(lag).toBeLessThan(10);

      // A sync holding the stream: the next event fails its one attempt and is parked.
      const holder = openSink(`jsonl:${dir}`);
      await holder.open();
      try {
        const lock = await holder.lock('applications', 'test');
        expect(lock.acquired).toBe(true);
        expect((await deliver(event(4))).status).toBe(200);
        await until('ashpipe_webhook_events_parked_total', 1);
        s = await samples();
        expect(sum(s, 'ashpipe_webhook_events_parked_total', flow)).toBe(1);
        expect(sum(s, 'ashpipe_webhook_events_applied_total', flow)).toBe(2);
        expect(received('stored')).toBe(3);
      } finally {
        await holder.close();
      }
    } finally {
      await hub.close();
    }
  }, 60_000);

  it("shows the queue of a credential's limiter while requests wait", async () => {
    h = await harness();
    const metrics = h.deps.metrics;
    if (!metrics) throw new Error('no metrics');
    const key = 'queue-depth-test-key';
    const limiter = limiterFor(key, { maxConcurrent: 1 });
    const flow = { id: 'flow-q', name: 'queued' } as Flow;
    metrics.runHooks(flow, { id: 'cred-q', name: 'queue' }, key, false);
    const labels = { credential: 'queue', credential_id: 'cred-q' };
    const first = await limiter.acquire();
    const waiting = [limiter.acquire(), limiter.acquire()];
    let samples = parse(await scrape(h));
    expect(sum(samples, 'ashpipe_limiter_in_flight_requests', labels)).toBe(1);
    expect(sum(samples, 'ashpipe_limiter_queued_requests', labels)).toBe(2);
    first();
    const second = await waiting[0];
    samples = parse(await scrape(h));
    expect(sum(samples, 'ashpipe_limiter_queued_requests', labels)).toBe(1);
    second?.();
    (await waiting[1])?.();
    samples = parse(await scrape(h));
    expect(sum(samples, 'ashpipe_limiter_queued_requests', labels)).toBe(0);
    expect(sum(samples, 'ashpipe_limiter_in_flight_requests', labels)).toBe(0);
    expect(await scrape(h)).not.toContain(key);
  });

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
