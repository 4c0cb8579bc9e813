import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { createApp } from '../../src/server/app.js';
import { WebhookHub } from '../../src/server/webhooks.js';
import { openSink } from '../../src/sinks/index.js';
import { Vault } from '../../src/vault/vault.js';
import { signBody } from '../../src/webhooks/index.js';
import { asJson, type Harness, harness, signedInCaller } from './helpers.js';

// Every metric family of `GET /metrics`, written out by hand (never read from src/server/metrics.ts), after
// one server ran a sync, a push and webhook events: each family is declared with its type, the ones the
// runs moved are above zero, and the exposition declares nothing else — a new family fails here until it
// is added to this list (and to the table of docs/operations.md).
const KEY = 'sandbox-full';

/**
 * How the runs leave a family: `moved` has samples above zero (a histogram: observations), `idle` has
 * samples for the credential, all zero (a gauge read after the runs ended), `unmoved` none above zero
 * (nothing in these runs counts there: no 429, no refused syncToken, no failed write).
 */
type After = 'moved' | 'idle' | 'unmoved';
const FAMILIES: Record<string, { type: 'counter' | 'gauge' | 'histogram'; after: After }> = {
  ashpipe_ashby_requests_total: { type: 'counter', after: 'moved' },
  ashpipe_ashby_rate_limited_total: { type: 'counter', after: 'unmoved' },
  ashpipe_ashby_retry_after_seconds_total: { type: 'counter', after: 'unmoved' },
  ashpipe_records_read_total: { type: 'counter', after: 'moved' },
  ashpipe_records_written_total: { type: 'counter', after: 'moved' },
  ashpipe_flow_runs_total: { type: 'counter', after: 'moved' },
  ashpipe_flow_run_duration_seconds: { type: 'histogram', after: 'moved' },
  ashpipe_sync_token_resets_total: { type: 'counter', after: 'unmoved' },
  ashpipe_push_records_total: { type: 'counter', after: 'moved' },
  ashpipe_webhook_events_received_total: { type: 'counter', after: 'moved' },
  ashpipe_webhook_events_applied_total: { type: 'counter', after: 'moved' },
  ashpipe_webhook_events_parked_total: { type: 'counter', after: 'moved' },
  ashpipe_webhook_event_lag_seconds: { type: 'histogram', after: 'moved' },
  ashpipe_limiter_queued_requests: { type: 'gauge', after: 'idle' },
  ashpipe_limiter_in_flight_requests: { type: 'gauge', after: 'idle' },
  ashpipe_limiter_learned_requests_per_second: { type: 'gauge', after: 'unmoved' },
  ashpipe_flow_seconds_since_last_success: { type: 'gauge', after: 'moved' },
  ashpipe_stream_seconds_since_last_success: { type: 'gauge', after: 'moved' },
};
/** The families a server with the fleet's queue (a PostgreSQL control store) adds. */
const FLEET_FAMILIES: Record<string, 'gauge'> = {
  ashpipe_queue_jobs: 'gauge',
  ashpipe_worker_runs: 'gauge',
};
/** The series of a histogram family besides its name. */
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

/** A text exposition: its declared families (`# TYPE name type`) and its samples. */
interface Exposition {
  families: Map<string, string>;
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
}

function parseExposition(text: string): Exposition {
  const families = new Map<string, string>();
  const samples: Exposition['samples'] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) families.set(type[1] ?? '', type[2] ?? '');
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k ?? ''] = v ?? '';
    samples.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return { families, samples };
}

/** The family a sample belongs to: its own name, or a histogram's name without the suffix. */
function familyOf(families: Map<string, string>, name: string): string | undefined {
  if (families.has(name)) return name;
  const suffix = HISTOGRAM_SUFFIXES.find((s) => name.endsWith(s));
  const base = suffix ? name.slice(0, -suffix.length) : undefined;
  return base !== undefined && families.get(base) === 'histogram' ? base : undefined;
}

/** The sum of the samples named `name` whose labels include `where`. */
function sum(e: Exposition, name: string, where: Record<string, string> = {}): number {
  return e.samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

let sandbox: Sandbox;
let h: Harness | undefined;
let hub: WebhookHub | undefined;
beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, scale: 30 });
});
afterAll(async () => {
  await hub?.close();
  await h?.close();
  await sandbox?.close();
});

describe('GET /metrics families', () => {
  it('declares every family, each moved by a sync, a push and webhook events, and no other', async () => {
    h = await harness({
      baseUrl: sandbox.url,
      realSource: true,
      realDestination: true,
      allowHttpBaseUrl: true,
    });
    const harnessed = h;
    // One attempt before an event is parked, so a parked event needs no backoff.
    hub = new WebhookHub(harnessed.deps, { applier: { maxAttempts: 1, pollMs: 20, retryBaseMs: 10 } });
    const app = createApp(harnessed.deps, { webhookHub: hub });
    const call = await signedInCaller(harnessed, app);
    const runToEnd = async (flowId: string): Promise<string> => {
      const { run } = await call('POST', `/flows/${flowId}/run`);
      const finished = await harnessed.deps.scheduler.waitFor(run.id);
      if (!finished?.finishedAt) throw new Error('the run did not finish');
      return finished.status;
    };
    const loopback = { incoming: { socket: { remoteAddress: '127.0.0.1' } } };
    const scrape = async (): Promise<Exposition> => {
      const res = await app.request('/metrics', {}, loopback);
      expect(res.status).toBe(200);
      return parseExposition(await res.text());
    };
    const credentialId = (await call('POST', '/credentials', { name: 'families', apiKey: KEY })).credential
      .id as string;

    // A source sync of two streams, counted by hand from the sandbox (archived records included).
    const nightly = (
      await call('POST', '/flows', {
        kind: 'source',
        name: 'nightly',
        credentialId,
        streams: ['candidates', 'sources'],
        target: { type: 'sqlite', path: path.join(harnessed.data, 'nightly.db') },
      })
    ).flow.id as string;
    expect(await runToEnd(nightly)).toBe('succeeded');
    const candidates = sandbox.records('candidate.list', { apiKey: KEY, body: { includeArchived: true } });
    expect(candidates.length).toBeGreaterThan(0);

    // A push of four rows, by hand: two new people (applied), one Ashby has already (skipped), one without
    // a name (quarantined, never sent).
    const existing = sandbox
      .records('candidate.list', { apiKey: KEY })
      .map((c) => asJson(c).primaryEmailAddress?.value as string | undefined)
      .find((email) => email !== undefined);
    if (!existing) throw new Error('the sandbox has no candidate with an email');
    const csv = `Full Name,Email\nAda Family,ada.families@example.com\nBo Family,bo.families@example.com\nKnown Person,${existing}\n,nameless.families@example.com\n`;
    const imported = (
      await call('POST', '/flows', {
        kind: 'destination',
        name: 'import',
        credentialId,
        operation: 'candidate.create',
        input: { type: 'csv', content: csv },
        mapping: { name: 'Full Name', email: 'Email' },
      })
    ).flow.id as string;
    expect(await runToEnd(imported)).toBe('partial');

    // Webhook events: one applied; one parked while a sync holds its JSONL stream.
    const secret = 'whsec-families-0123456789abcdef';
    await new Vault(harnessed.typed, {
      home: harnessed.home,
      env: { ASHPIPE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') },
    }).add({ name: 'families:webhook-secret', apiKey: secret });
    const dir = path.join(harnessed.data, 'hooks');
    const live = (
      await call('POST', '/flows', {
        kind: 'source',
        name: 'live',
        credentialId,
        streams: ['applications'],
        target: { type: 'jsonl', path: dir },
        options: { webhooks: true },
      })
    ).flow.id as string;
    const deliver = async (n: number) => {
      const body = JSON.stringify({
        webhookActionId: `families-${n}`,
        action: 'applicationUpdate',
        data: {
          application: { id: `app-families-${n}`, status: 'Active', updatedAt: '2026-02-01T00:00:00.000Z' },
        },
      });
      const res = await app.request(`http://localhost/webhooks/ashby/${live}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'ashby-signature': signBody(body, secret) },
        body,
      });
      expect(res.status).toBe(200);
    };
    const liveFlow = { flow: 'live', flow_id: live };
    const until = async (name: string, value: number) => {
      for (let i = 0; i < 400; i++) {
        if (sum(await scrape(), name, liveFlow) >= value) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`${name} did not reach ${value}`);
    };
    await deliver(1);
    await until('ashpipe_webhook_events_applied_total', 1);
    const holder = openSink(`jsonl:${dir}`);
    await holder.open();
    try {
      expect((await holder.lock('applications', 'test')).acquired).toBe(true);
      await deliver(2);
      await until('ashpipe_webhook_events_parked_total', 1);
    } finally {
      await holder.close();
    }

    const e = await scrape();
    // Every family of the list, with its type; no other (a fleet's families only with its queue).
    for (const [name, { type }] of Object.entries(FAMILIES)) expect(e.families.get(name), name).toBe(type);
    expect([...e.families.keys()].sort()).toEqual(Object.keys(FAMILIES).sort());
    for (const s of e.samples) expect(familyOf(e.families, s.name), s.name).toBeDefined();

    // Each family as the runs left it.
    const credential = { credential: 'families', credential_id: credentialId };
    for (const [name, { type, after }] of Object.entries(FAMILIES)) {
      const series = type === 'histogram' ? `${name}_count` : name;
      const samples = e.samples.filter((s) => s.name === series);
      const nonZero = samples.filter((s) => s.value !== 0);
      const ofCredential = samples.filter((s) => s.labels.credential_id === credentialId);
      if (after === 'moved') expect(sum(e, series), name).toBeGreaterThan(0);
      if (after === 'unmoved') expect(nonZero, name).toEqual([]);
      if (after === 'idle') expect(ofCredential, name).toEqual([{ name, labels: credential, value: 0 }]);
    }

    // By hand: what each flow did.
    const flow = (name: string, id: string) => ({ flow: name, flow_id: id });
    expect(sum(e, 'ashpipe_flow_runs_total', { ...flow('nightly', nightly), outcome: 'succeeded' })).toBe(1);
    expect(sum(e, 'ashpipe_flow_runs_total', { ...flow('import', imported), outcome: 'partial' })).toBe(1);
    expect(sum(e, 'ashpipe_flow_runs_total')).toBe(2);
    expect(sum(e, 'ashpipe_flow_run_duration_seconds_count')).toBe(2);
    expect(sum(e, 'ashpipe_records_read_total', { ...flow('nightly', nightly), stream: 'candidates' })).toBe(
      candidates.length,
    );
    expect(
      sum(e, 'ashpipe_records_read_total', { ...flow('import', imported), stream: 'candidate.create' }),
    ).toBe(4);
    expect(
      sum(e, 'ashpipe_records_written_total', { ...flow('import', imported), stream: 'candidate.create' }),
    ).toBe(2);
    const push = { ...flow('import', imported), operation: 'candidate.create' };
    expect(sum(e, 'ashpipe_push_records_total', { ...push, outcome: 'applied' })).toBe(2);
    expect(sum(e, 'ashpipe_push_records_total', { ...push, outcome: 'skipped' })).toBe(1);
    expect(sum(e, 'ashpipe_push_records_total', { ...push, outcome: 'quarantined' })).toBe(1);
    expect(sum(e, 'ashpipe_push_records_total')).toBe(4);
    expect(sum(e, 'ashpipe_webhook_events_received_total', { ...liveFlow, result: 'stored' })).toBe(2);
    expect(sum(e, 'ashpipe_webhook_events_received_total')).toBe(2);
    expect(sum(e, 'ashpipe_webhook_events_applied_total', liveFlow)).toBe(1);
    expect(sum(e, 'ashpipe_webhook_events_parked_total', liveFlow)).toBe(1);
    expect(sum(e, 'ashpipe_webhook_event_lag_seconds_count', liveFlow)).toBe(1);
    // Freshness: the sync succeeded (both its streams); the push was partial, the webhook flow never ran.
    expect(
      e.samples
        .filter((s) => s.name === 'ashpipe_flow_seconds_since_last_success')
        .map((s) => s.labels.flow_id),
    ).toEqual([nightly]);
    expect(
      e.samples
        .filter((s) => s.name === 'ashpipe_stream_seconds_since_last_success')
        .map((s) => `${s.labels.flow_id} ${s.labels.stream}`)
        .sort(),
    ).toEqual([`${nightly} candidates`, `${nightly} sources`]);

    // A server with the fleet's queue declares its two gauges too (here with an empty queue), and no other.
    harnessed.deps.metrics?.observeFleet({ jobCounts: async () => [] });
    const fleet = await scrape();
    for (const [name, type] of Object.entries(FLEET_FAMILIES))
      expect(fleet.families.get(name), name).toBe(type);
    expect([...fleet.families.keys()].sort()).toEqual(
      [...Object.keys(FAMILIES), ...Object.keys(FLEET_FAMILIES)].sort(),
    );
  }, 60_000);
});
