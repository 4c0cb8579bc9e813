import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clearSecrets } from '../../src/util/redact.js';
import { asJson, type Harness, harness, signedInHeaders } from './helpers.js';

const CANARY = 'canary-key-7f3e9a1c5b2d';
const READONLY = 'readonly-key-0a1b2c3d4e5f';

let h: Harness;
let headers: Record<string, string>;

beforeEach(async () => {
  clearSecrets();
  h = await harness();
  headers = await signedInHeaders(h);
});
afterEach(async () => {
  await h.close();
});

const call = (method: string, p: string, body?: unknown) =>
  h.request(p, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

async function addCredential(name: string, apiKey: string) {
  const res = await call('POST', '/api/v1/credentials', { name, description: 'nightly sync', apiKey });
  expect(res.status).toBe(201);
  return (await res.json().then(asJson)).credential;
}

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : [p];
  });
}

describe('credentials', () => {
  it('never returns, stores or logs the API key in plaintext', async () => {
    const bodies: string[] = [];
    const created = await call('POST', '/api/v1/credentials', { name: 'prod', apiKey: CANARY });
    bodies.push(await created.clone().text());
    const { credential } = await created.json().then(asJson);
    expect(credential.maskedKey).toBe(`••••${CANARY.slice(-4)}`);
    for (const p of ['/api/v1/credentials', `/api/v1/credentials/${credential.id}`]) {
      bodies.push(await (await call('GET', p)).text());
    }
    bodies.push(await (await call('POST', `/api/v1/credentials/${credential.id}/probe`)).text());
    bodies.push(await (await call('POST', '/api/v1/credentials', { name: 'prod', apiKey: CANARY })).text());
    for (const body of bodies) expect(body).not.toContain(CANARY);
    for (const file of filesUnder(h.home)) expect(fs.readFileSync(file).includes(CANARY)).toBe(false);
    expect(h.logLines.join('\n')).not.toContain(CANARY);
  });

  it('shows the permission map and names the destination operations a read-only key will fail', async () => {
    const ro = await addCredential('reader', READONLY);
    expect(ro.status).toBe('verified');
    expect(
      ro.verification.permissions.find((p: { module: string }) => p.module === 'Candidates'),
    ).toMatchObject({
      read: 'allowed',
      write: 'missing',
    });
    expect(ro.failingOperations.map((o: { name: string }) => o.name)).toContain('candidate.create');
    expect(ro.failingOperations.find((o: { name: string }) => o.name === 'candidate.create').permission).toBe(
      'Candidates: Write',
    );
    const full = await addCredential('writer', 'full-key-99887766');
    expect(full.failingOperations).toEqual([]);
  });

  it('refuses a key Ashby rejects and stores nothing', async () => {
    const res = await call('POST', '/api/v1/credentials', { name: 'broken', apiKey: 'bad-key-123456789' });
    expect(res.status).toBe(422);
    expect((await res.json().then(asJson)).error.code).toBe('key_rejected');
    expect((await (await call('GET', '/api/v1/credentials')).json().then(asJson)).credentials).toEqual([]);
  });

  it('validates the body: name and key are required, unknown fields are refused', async () => {
    const missing = await call('POST', '/api/v1/credentials', { name: '' });
    expect(missing.status).toBe(422);
    const error = (await missing.json().then(asJson)).error;
    expect(error.code).toBe('validation_failed');
    expect(error.details.map((d: { path: string }) => d.path)).toEqual(
      expect.arrayContaining(['name', 'apiKey']),
    );
    const extra = await call('POST', '/api/v1/credentials', {
      name: 'x',
      apiKey: 'key-1234567',
      key: 'oops',
    });
    expect(extra.status).toBe(422);
    const notJson = await h.request('/api/v1/credentials', { method: 'POST', headers, body: '{nope' });
    expect(notJson.status).toBe(400);
    expect((await notJson.json().then(asJson)).error.code).toBe('invalid_json');
  });

  it('answers a taken name with 409 and an unknown id with 404', async () => {
    await addCredential('prod', 'full-key-11112222');
    const dup = await call('POST', '/api/v1/credentials', { name: 'prod', apiKey: 'full-key-33334444' });
    expect(dup.status).toBe(409);
    expect((await call('GET', '/api/v1/credentials/cred_nope')).status).toBe(404);
  });

  it('rotates (verifying the new key first), edits, and deletes a credential', async () => {
    const c = await addCredential('prod', 'full-key-aaaa1111');
    const refused = await call('POST', `/api/v1/credentials/${c.id}/rotate`, { apiKey: 'bad-key-bbbb2222' });
    expect(refused.status).toBe(422);
    expect(
      (await (await call('GET', `/api/v1/credentials/${c.id}`)).json().then(asJson)).credential.maskedKey,
    ).toBe('••••1111');
    const rotated = await call('POST', `/api/v1/credentials/${c.id}/rotate`, { apiKey: 'full-key-cccc3333' });
    expect((await rotated.json().then(asJson)).credential.maskedKey).toBe('••••3333');
    const edited = await call('PATCH', `/api/v1/credentials/${c.id}`, {
      name: 'production',
      description: 'owner: data team',
    });
    expect((await edited.json().then(asJson)).credential).toMatchObject({
      name: 'production',
      description: 'owner: data team',
    });
    expect((await call('DELETE', `/api/v1/credentials/${c.id}`)).status).toBe(204);
    expect((await call('GET', `/api/v1/credentials/${c.id}`)).status).toBe(404);
  });

  it('refuses to delete a credential flows use, naming them, unless forced (which pauses them)', async () => {
    const c = await addCredential('prod', 'full-key-aaaa1111');
    const flow = await call('POST', '/api/v1/flows?activate=true', {
      kind: 'source',
      name: 'Nightly',
      credentialId: c.id,
      target: { type: 'sqlite', path: 'x.db' },
      schedule: '0 3 * * *',
    });
    const flowId = (await flow.json().then(asJson)).flow.id;
    const res = await call('DELETE', `/api/v1/credentials/${c.id}`);
    expect(res.status).toBe(409);
    const error = (await res.json().then(asJson)).error;
    expect(error.code).toBe('credential_in_use');
    expect(error.details.flows).toEqual([{ id: flowId, name: 'Nightly' }]);
    expect((await call('DELETE', `/api/v1/credentials/${c.id}?force=true`)).status).toBe(204);
    const paused = (await (await call('GET', `/api/v1/flows/${flowId}`)).json().then(asJson)).flow;
    expect(paused).toMatchObject({
      status: 'paused',
      pausedReason: 'paused when its credential "prod" was deleted',
    });
  });
});

describe('flows and runs', () => {
  let credentialId: string;
  beforeEach(async () => {
    credentialId = (await addCredential('prod', CANARY)).id;
  });
  const source = (extra: Record<string, unknown> = {}) => ({
    kind: 'source',
    name: 'Nightly sync',
    credentialId,
    streams: ['candidates'],
    target: { type: 'sqlite', path: 'ashby.db' },
    ...extra,
  });

  it('validates flows: unknown credential, bad cron, unknown stream, missing operation', async () => {
    const cases = [
      source({ credentialId: 'cred_nope' }),
      source({ schedule: 'every tuesday' }),
      source({ streams: ['not_a_stream'] }),
      source({ options: { refreshAfter: 'sources=soon' } }),
      source({ options: { refreshAfter: 12 } }),
      { kind: 'destination', name: 'Push', credentialId, input: { type: 'csv', content: 'a\n1' } },
    ];
    for (const body of cases) {
      const res = await call('POST', '/api/v1/flows', body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect((await res.json().then(asJson)).error.code).toBe('validation_failed');
    }
  });

  it('refuses a source flow whose request options are not positive numbers, naming the option', async () => {
    const refused = await call('POST', '/api/v1/flows', source({ options: { requestsPerSecond: 0 } }));
    expect(refused.status).toBe(422);
    expect((await refused.json().then(asJson)).error).toEqual({
      code: 'validation_failed',
      message: 'options.requestsPerSecond must be a positive number, got 0',
      details: [{ path: 'options.requestsPerSecond', message: 'expected a positive number' }],
    });
    const fractional = await call('POST', '/api/v1/flows', source({ options: { concurrency: 2.5 } }));
    expect(fractional.status).toBe(422);
    const accepted = await call(
      'POST',
      '/api/v1/flows',
      source({ options: { requestsPerSecond: 2.5, concurrency: 3 } }),
    );
    expect(accepted.status).toBe(201);
  });

  it('creates a paused flow, activates it onto its schedule and pauses it off again', async () => {
    const created = await (await call('POST', '/api/v1/flows', source({ schedule: '*/5 * * * *' })))
      .json()
      .then(asJson);
    expect(created.flow).toMatchObject({ status: 'paused', nextRunAt: null, lastRun: null });
    const active = await (await call('POST', `/api/v1/flows/${created.flow.id}/activate`))
      .json()
      .then(asJson);
    expect(active.flow.status).toBe('active');
    expect(Date.parse(active.flow.nextRunAt)).toBeGreaterThan(Date.now());
    const paused = await (await call('POST', `/api/v1/flows/${created.flow.id}/pause`)).json().then(asJson);
    expect(paused.flow).toMatchObject({ status: 'paused', nextRunAt: null });
  });

  it('runs a flow now, refuses a second run while it goes (409), and records the counts when it ends', async () => {
    const { flow } = await (await call('POST', '/api/v1/flows', source())).json().then(asJson);
    const started = await call('POST', `/api/v1/flows/${flow.id}/run`);
    expect(started.status).toBe(202);
    const { run } = await started.json().then(asJson);
    expect(run.status).toBe('running');
    expect(h.engine.calls[0]?.ctx.apiKey).toBe(CANARY);

    const second = await call('POST', `/api/v1/flows/${flow.id}/run`);
    expect(second.status).toBe(409);
    const error = (await second.json().then(asJson)).error;
    expect(error.code).toBe('run_in_progress');
    expect(error.message).toContain('already running');
    expect(error.details.runId).toBe(run.id);

    const live = await (await call('GET', `/api/v1/runs/${run.id}`)).json().then(asJson);
    expect(live.run.counts[0]).toMatchObject({ name: 'candidates', read: 100 });

    h.engine.finish();
    await h.deps.scheduler.waitFor(run.id);
    const done = await (await call('GET', `/api/v1/runs/${run.id}`)).json().then(asJson);
    expect(done.run).toMatchObject({ status: 'succeeded', trigger: 'manual' });
    expect(done.run.counts).toEqual([{ name: 'candidates', status: 'succeeded', read: 250, written: 250 }]);
    const listed = await (await call('GET', `/api/v1/runs?flowId=${flow.id}`)).json().then(asJson);
    expect(listed.runs.map((r: { id: string }) => r.id)).toEqual([run.id]);
    expect((await call('POST', `/api/v1/flows/${flow.id}/run`)).status).toBe(202);
  });

  it('streams a run as server-sent events: progress, then finished', async () => {
    const { flow } = await (await call('POST', '/api/v1/flows', source())).json().then(asJson);
    const { run } = await (await call('POST', `/api/v1/flows/${flow.id}/run`)).json().then(asJson);
    const res = await call('GET', `/api/v1/runs/${run.id}/events`);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const first = await reader.read();
    text += decoder.decode(first.value);
    expect(text).toContain('event: progress');
    h.engine.finish({
      status: 'partial',
      errors: [
        { scope: 'offers', code: 'missing_endpoint_permission', message: `key ${CANARY} lacks Offers: Read` },
      ],
    });
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += decoder.decode(chunk.value);
    }
    expect(text).toContain('event: finished');
    expect(text).toContain('"status":"partial"');
    expect(text).not.toContain(CANARY);
  });

  it('fails a run whose engine throws and keeps the key out of the stored error', async () => {
    const { flow } = await (await call('POST', '/api/v1/flows', source())).json().then(asJson);
    const { run } = await (await call('POST', `/api/v1/flows/${flow.id}/run`)).json().then(asJson);
    const resolve = h.engine.calls[0];
    expect(resolve).toBeDefined();
    h.engine.finish({
      status: 'failed',
      errors: [{ code: 'boom', message: `request with ${CANARY} failed` }],
    });
    await h.deps.scheduler.waitFor(run.id);
    const body = await (await call('GET', `/api/v1/runs/${run.id}`)).text();
    expect(body).toContain('"status":"failed"');
    expect(body).not.toContain(CANARY);
    expect(JSON.stringify(h.control.db.prepare('SELECT errors FROM flow_runs').all())).not.toContain(CANARY);
  });
});
