import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addQuarantine } from '../../src/push/ledger.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { clearSecrets } from '../../src/util/redact.js';
import { asJson, type Harness, harness, signedInHeaders } from './helpers.js';

// The sandbox's full key: a real key to the sandbox, so it must stay out of every response.
const KEY = 'sandbox-full';
const CSV = [
  'Full Name,Email,Notes',
  'Ada Lovelace,ada.dest@example.com,first',
  'Bad Row,not-an-email,second',
  'Grace Hopper,grace.dest@example.com,third',
].join('\n');

let sandbox: Sandbox;
let h: Harness;
let headers: Record<string, string>;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, scale: 20 });
});
afterAll(async () => {
  await sandbox.close();
});

beforeEach(async () => {
  clearSecrets();
  sandbox.faults.reset();
  sandbox.resetStats();
  h = await harness({ baseUrl: sandbox.url, realDestination: true, realSource: true });
  headers = await signedInHeaders(h);
});
afterEach(async () => {
  await h.close();
});

const bodies: string[] = [];
const call = async (method: string, p: string, body?: unknown) => {
  const res = await h.request(p, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  bodies.push(await res.clone().text());
  return res;
};

/** Makes emails unique per test: the sandbox keeps the candidates of earlier tests. */
const csvFor = (tag: string) => CSV.replaceAll('.dest@', `.${tag}@`);

async function destination(tag: string, options: Record<string, unknown> = {}) {
  const cred = await call('POST', '/api/v1/credentials', { name: `sandbox-${tag}`, apiKey: KEY });
  expect(cred.status).toBe(201);
  const credentialId = (await cred.json().then(asJson)).credential.id;
  const config = {
    kind: 'destination',
    name: `Import ${tag}`,
    credentialId,
    operation: 'candidate.create',
    input: { type: 'csv', content: csvFor(tag) },
    mapping: { name: 'Full Name', email: 'Email' },
    options,
  };
  return { credentialId, config };
}

async function runToEnd(flowId: string) {
  const started = await call('POST', `/api/v1/flows/${flowId}/run`);
  expect(started.status).toBe(202);
  const { run } = await started.json().then(asJson);
  await h.deps.scheduler.waitFor(run.id);
  return (await (await call('GET', `/api/v1/runs/${run.id}`)).json().then(asJson)).run;
}

describe('destination flows on the push engine', () => {
  it('pushes each valid row once, quarantines the bad one with its reason, and a rerun writes nothing again', async () => {
    const { config } = await destination('run');
    const created = await call('POST', '/api/v1/flows', config);
    expect(created.status).toBe(201);
    const flow = (await created.json().then(asJson)).flow;

    const run = await runToEnd(flow.id);
    expect(run.status).toBe('partial');
    expect(run.counts).toEqual([
      expect.objectContaining({ name: 'candidate.create', read: 3, written: 2, quarantined: 1, failed: 0 }),
    ]);
    expect(sandbox.stats().writes['candidate.create']).toBe(2);
    // The mapping dropped the unmapped Notes column instead of sending it.
    const names = sandbox.records('candidate.list').map((c) => (c as { name: string }).name);
    expect(names).toEqual(expect.arrayContaining(['Ada Lovelace', 'Grace Hopper']));

    const list = await (await call('GET', `/api/v1/quarantine?flowId=${flow.id}`)).json().then(asJson);
    expect(list.items).toHaveLength(1);
    expect(list.items[0]).toMatchObject({
      flowId: flow.id,
      runId: run.id,
      operation: 'candidate.create',
      row: 2,
      fieldPath: 'email',
      status: 'open',
      record: { 'Full Name': 'Bad Row', Email: 'not-an-email' },
    });
    expect(list.items[0].errorMessage).toContain('email');

    const again = await runToEnd(flow.id);
    expect(again.counts[0]).toMatchObject({ read: 3, written: 0, quarantined: 1 });
    expect(again.counts[0].message).toContain('2 skipped');
    expect(sandbox.stats().writes['candidate.create']).toBe(2);
    // The same bad row of a rerun updates its open entry instead of adding another.
    const after = await (await call('GET', `/api/v1/quarantine?flowId=${flow.id}`)).json().then(asJson);
    expect(after.items).toHaveLength(1);
    expect(after.items[0].runId).toBe(again.id);
    for (const b of bodies) expect(b).not.toContain(KEY);
  });

  it('a flow run clears the input rows of entries older than its quarantineRetentionDays, keeping the entries', async () => {
    const { config } = await destination('retention', { quarantineRetentionDays: 1 });
    const created = await call('POST', '/api/v1/flows', config);
    expect(created.status).toBe(201);
    const flow = (await created.json().then(asJson)).flow;
    // Entries of another import: one quarantined two days ago, one an hour ago.
    const entryOf = (name: string) =>
      addQuarantine(h.typed, {
        runId: 'cli-run',
        operation: 'candidate.create',
        inputKey: `key:${name}`,
        errorCode: 'invalid_record',
        errorMessage: 'email: not a valid email address: "[removed]"',
        raw: { name, email: 'nope' },
      });
    const old = await entryOf('Old Entry');
    const young = await entryOf('Young Entry');
    const ago = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();
    const setAt = h.control.db.prepare('UPDATE push_quarantine SET at = ? WHERE id = ?');
    setAt.run(ago(49), old);
    setAt.run(ago(1), young);

    await runToEnd(flow.id);
    const row = (id: number) =>
      h.control.db
        .prepare('SELECT raw, status, raw_cleared_at FROM push_quarantine WHERE id = ?')
        .get(id) as {
        raw: string;
        status: string;
        raw_cleared_at: string | null;
      };
    expect(row(old)).toMatchObject({ raw: 'null', status: 'open' });
    expect(row(old).raw_cleared_at).not.toBeNull();
    expect(row(young)).toMatchObject({
      raw: JSON.stringify({ name: 'Young Entry', email: 'nope' }),
      status: 'open',
    });
    expect(row(young).raw_cleared_at).toBeNull();
    const item = (await (await call('GET', `/api/v1/quarantine/${old}`)).json().then(asJson)).item;
    expect(item).toMatchObject({ record: null, recordClearedAt: row(old).raw_cleared_at });
  });

  it('answers 422 naming the operation when a flow asks for one that does not exist', async () => {
    const { config } = await destination('unknown-op');
    const res = await call('POST', '/api/v1/flows/test', { ...config, operation: 'candidate.teleport' });
    expect(res.status).toBe(422);
    expect((await res.json().then(asJson)).error).toEqual({
      code: 'validation_failed',
      message: 'unknown endpoint or operation "candidate.teleport" (see `ashpipe operations`)',
    });
  });

  it('dry-runs an unsaved flow for the Test step: the bodies it would send, nothing written or quarantined', async () => {
    const { config } = await destination('dry');
    const res = await call('POST', '/api/v1/flows/test', config);
    expect(res.status).toBe(200);
    const report = await res.json().then(asJson);
    expect(report.kind).toBe('destination');
    expect(report.results.map((r: { status: string }) => r.status)).toEqual([
      'dry-run',
      'quarantined',
      'dry-run',
    ]);
    expect(report.results[0].wouldSend).toEqual({
      endpoint: 'candidate.create',
      body: expect.objectContaining({ name: 'Ada Lovelace', email: 'ada.dry@example.com' }),
    });
    expect(report.results[0].wouldSend.body).not.toHaveProperty('Notes');
    expect(report.results[1].error.message).toContain('email');
    expect(sandbox.stats().writes['candidate.create'] ?? 0).toBe(0);
    // Look-ups were sent: the dry run checks for an existing candidate by email.
    expect(sandbox.stats().requests['candidate.search'] ?? 0).toBeGreaterThan(0);
    const q = await (await call('GET', '/api/v1/quarantine?status=all')).json().then(asJson);
    expect(q.items).toHaveLength(0);
    // limit bounds the records read.
    const one = await (await call('POST', '/api/v1/flows/test?limit=1', config)).json().then(asJson);
    expect(one.results).toHaveLength(1);
  });

  it('refuses destination flows with an unknown operation or a column mapped twice', async () => {
    const { config } = await destination('bad');
    const unknown = await call('POST', '/api/v1/flows', { ...config, operation: 'candidate.teleport' });
    expect(unknown.status).toBe(422);
    const twice = await call('POST', '/api/v1/flows', {
      ...config,
      mapping: { name: 'Full Name', phoneNumber: 'Full Name' },
    });
    expect(twice.status).toBe(422);
    expect((await twice.json().then(asJson)).error.message).toContain('Full Name');
  });

  it('exports the quarantine as JSON lines and as CSV', async () => {
    const { config } = await destination('exp');
    const flow = (await (await call('POST', '/api/v1/flows', config)).json().then(asJson)).flow;
    await runToEnd(flow.id);
    const jsonl = await call('GET', `/api/v1/quarantine/export?flowId=${flow.id}`);
    expect(jsonl.headers.get('content-type')).toContain('ndjson');
    const lines = (await jsonl.text()).trim().split('\n');
    expect(lines).toHaveLength(1);
    // The account by its credential's name, never its key.
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({
      row: 2,
      fieldPath: 'email',
      account: 'credential "sandbox-exp"',
    });
    const csv = await call('GET', `/api/v1/quarantine/export?flowId=${flow.id}&format=csv`);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const rows = (await csv.text()).trim().split('\r\n');
    expect(rows[0]).toBe(
      'id,createdAt,flowId,runId,operation,row,errorCode,fieldPath,errorMessage,status,account,record',
    );
    expect(rows[1]).toContain(',"credential ""sandbox-exp""",');
    expect(rows).toHaveLength(2);
    expect(rows[1]).toContain(
      '"{""Full Name"":""Bad Row"",""Email"":""not-an-email"",""Notes"":""second""}"',
    );
    expect((await call('GET', '/api/v1/quarantine/export?format=xml')).status).toBe(422);
  });

  it('replays a record Ashby refused once: applied and closed, recorded as a replay run of the flow', async () => {
    const { config } = await destination('rep', { concurrency: 1 });
    const flow = (await (await call('POST', '/api/v1/flows', config)).json().then(asJson)).flow;
    sandbox.faults.set({
      failEndpoints: { 'candidate.create': { status: 200, code: 'invalid_input', times: 1 } },
    });
    const run = await runToEnd(flow.id);
    expect(run.counts[0]).toMatchObject({ written: 1, quarantined: 2 });
    const items = (await (await call('GET', `/api/v1/quarantine?flowId=${flow.id}`)).json().then(asJson))
      .items as Array<{ id: string; fieldPath?: string; errorCode: string }>;
    const refused = items.find((i) => i.errorCode === 'invalid_input');
    const invalid = items.find((i) => i.fieldPath === 'email');
    expect(refused && invalid).toBeTruthy();

    const replay = await call('POST', '/api/v1/quarantine/replay', { ids: [refused?.id, invalid?.id] });
    expect(replay.status).toBe(200);
    const result = await replay.json().then(asJson);
    expect(result).toMatchObject({ replayed: 1, failed: 1 });
    expect(result.run).toMatchObject({ flowId: flow.id, trigger: 'replay', status: 'partial' });
    expect(sandbox.stats().writes['candidate.create']).toBe(2);
    const open = (await (await call('GET', `/api/v1/quarantine?flowId=${flow.id}`)).json().then(asJson))
      .items;
    expect(open.map((i: { id: string }) => i.id)).toEqual([invalid?.id]);
    const replayed = await (await call('GET', `/api/v1/quarantine/${refused?.id}`)).json().then(asJson);
    expect(replayed.item.status).toBe('replayed');
    const runs = (await (await call('GET', `/api/v1/runs?flowId=${flow.id}`)).json().then(asJson)).runs;
    expect(runs.map((r: { trigger: string }) => r.trigger)).toContain('replay');
  });

  it('edit-then-replay: an edited record is checked against the operation, then replayed in place of the one read', async () => {
    const { config } = await destination('fixit');
    const flow = (await (await call('POST', '/api/v1/flows', config)).json().then(asJson)).flow;
    await runToEnd(flow.id);
    const [item] = (await (await call('GET', `/api/v1/quarantine?flowId=${flow.id}`)).json().then(asJson))
      .items as Array<{ id: string }>;
    const check = async (record: Record<string, unknown>) => {
      const res = await call('POST', `/api/v1/quarantine/${item?.id}/check`, { record });
      expect(res.status).toBe(200);
      return res.json().then(asJson);
    };
    // The stored mapping applies: columns are the input's, not the operation's fields.
    const still = await check({ 'Full Name': 'Bad Row', Email: 'still-not-an-email' });
    expect(still.ok).toBe(false);
    expect(still.issues.map((i: { path: string }) => i.path)).toEqual(['email']);
    const email = 'fixed.edit@example.com';
    const fixed = await check({ 'Full Name': 'Bad Row', Email: email });
    expect(fixed).toEqual({ ok: true, issues: [], body: { name: 'Bad Row', email } });
    expect(sandbox.stats().writes['candidate.create']).toBe(2);
    expect((await call('POST', '/api/v1/quarantine/99999/check', { record: {} })).status).toBe(404);

    const stray = await call('POST', '/api/v1/quarantine/replay', {
      ids: [item?.id],
      records: { '99999': { Email: email } },
    });
    expect(stray.status).toBe(422);
    const result = await (
      await call('POST', '/api/v1/quarantine/replay', {
        ids: [item?.id],
        records: { [String(item?.id)]: { 'Full Name': 'Bad Row', Email: email } },
      })
    )
      .json()
      .then(asJson);
    expect(result).toMatchObject({ replayed: 1, failed: 0 });
    expect(sandbox.stats().writesByKey['candidate.create']?.[email]).toBe(1);
    const closed = (await (await call('GET', `/api/v1/quarantine/${item?.id}`)).json().then(asJson)).item;
    expect(closed).toMatchObject({ status: 'replayed', closedBy: 'console' });
  });

  it('a rerun of the flow with its bad row corrected closes the entry as resolved, naming the run', async () => {
    const { config } = await destination('rerun');
    const flow = (await (await call('POST', '/api/v1/flows', config)).json().then(asJson)).flow;
    await runToEnd(flow.id);
    const [item] = (await (await call('GET', `/api/v1/quarantine?flowId=${flow.id}`)).json().then(asJson))
      .items as Array<{ id: string }>;
    const corrected = csvFor('rerun').replace('not-an-email', 'bad.row.rerun@example.com');
    const put = await call('PUT', `/api/v1/flows/${flow.id}`, {
      ...config,
      input: { type: 'csv', content: corrected },
    });
    expect(put.status).toBe(200);
    const rerun = await runToEnd(flow.id);
    expect(rerun.counts[0]).toMatchObject({ read: 3, written: 1, quarantined: 0 });
    const closed = (await (await call('GET', `/api/v1/quarantine/${item?.id}`)).json().then(asJson)).item;
    expect(closed.status).toBe('resolved');
    expect(closed.closedBy).toMatch(/^push run /);
    expect(
      (await (await call('GET', `/api/v1/quarantine?flowId=${flow.id}`)).json().then(asJson)).items,
    ).toEqual([]);
  });

  it('refuses a replay while the flow runs (409), and unknown entries (404)', async () => {
    const { config } = await destination('busy');
    const flow = (await (await call('POST', '/api/v1/flows', config)).json().then(asJson)).flow;
    await runToEnd(flow.id);
    const [item] = (await (await call('GET', `/api/v1/quarantine?flowId=${flow.id}`)).json().then(asJson))
      .items as Array<{ id: string }>;
    sandbox.faults.set({ latencyMs: 300 });
    const started = await call('POST', `/api/v1/flows/${flow.id}/run`);
    const { run } = await started.json().then(asJson);
    const busy = await call('POST', '/api/v1/quarantine/replay', { ids: [item?.id] });
    expect(busy.status).toBe(409);
    expect((await busy.json().then(asJson)).error.code).toBe('run_in_progress');
    await h.deps.scheduler.waitFor(run.id);
    sandbox.faults.reset();
    expect((await call('POST', '/api/v1/quarantine/replay', { ids: ['99999'] })).status).toBe(404);
    expect((await call('GET', '/api/v1/quarantine/abc')).status).toBe(404);
  });

  it('edits a flow with PUT: same id and status, new mapping used by the next run; the kind cannot change', async () => {
    const { config } = await destination('edit');
    const flow = (await (await call('POST', '/api/v1/flows?activate=true', config)).json().then(asJson)).flow;
    const edited = await call('PUT', `/api/v1/flows/${flow.id}`, {
      ...config,
      name: 'Import edited',
      mapping: { name: 'Full Name', email: 'Email', phoneNumber: 'Notes' },
    });
    expect(edited.status).toBe(200);
    const after = (await edited.json().then(asJson)).flow;
    expect(after).toMatchObject({ id: flow.id, name: 'Import edited', status: 'active' });
    expect(after.config.mapping.phoneNumber).toBe('Notes');
    const report = await (await call('POST', '/api/v1/flows/test?limit=1', after.config)).json().then(asJson);
    expect(report.results[0].wouldSend.body.phoneNumber).toBe('first');
    const toSource = await call('PUT', `/api/v1/flows/${flow.id}`, {
      kind: 'source',
      name: 'x',
      credentialId: config.credentialId,
      target: { type: 'jsonl', path: 'out' },
    });
    expect(toSource.status).toBe(422);
  });

  it('cancels a running destination run: the rest stays pending, the run ends cancelled, a second cancel is 409', async () => {
    const { config } = await destination('cancel', { concurrency: 1 });
    const flow = (await (await call('POST', '/api/v1/flows', config)).json().then(asJson)).flow;
    sandbox.faults.set({ latencyMs: 300 });
    const { run } = await (await call('POST', `/api/v1/flows/${flow.id}/run`)).json().then(asJson);
    expect((await call('POST', `/api/v1/flows/${flow.id}/cancel`)).status).toBe(202);
    const ended = await h.deps.scheduler.waitFor(run.id);
    sandbox.faults.reset();
    expect(ended?.status).toBe('cancelled');
    // No stale note of the abort itself: cancelling is what the person asked for.
    expect(ended?.errors.map((e) => e.code)).not.toContain('aborted');
    expect(ended?.counts[0]?.status).toBe('cancelled');
    expect(ended?.counts[0]?.message).toContain('pending');
    expect(sandbox.stats().writes['candidate.create'] ?? 0).toBeLessThan(2);
    expect((await call('POST', `/api/v1/flows/${flow.id}/cancel`)).status).toBe(409);
  });

  it('records a dry-run run of a saved flow (POST /flows/:id/test): counts of what would be sent, nothing written', async () => {
    const { config } = await destination('saved-dry');
    const flow = (await (await call('POST', '/api/v1/flows', config)).json().then(asJson)).flow;
    const started = await call('POST', `/api/v1/flows/${flow.id}/test`);
    expect(started.status).toBe(202);
    const { run } = await started.json().then(asJson);
    const ended = await h.deps.scheduler.waitFor(run.id);
    expect(ended).toMatchObject({ dryRun: true, trigger: 'test', status: 'partial' });
    expect(ended?.counts[0]).toMatchObject({ read: 3, written: 0, quarantined: 1 });
    expect(ended?.counts[0]?.message).toContain('2 would be sent');
    expect(sandbox.stats().writes['candidate.create'] ?? 0).toBe(0);
    const q = await (await call('GET', '/api/v1/quarantine?status=all')).json().then(asJson);
    expect(q.items).toHaveLength(0);
  });

  it('replays records that name no flow only with an explicit destination flowId', async () => {
    const { config } = await destination('cli');
    const flow = (await (await call('POST', '/api/v1/flows', config)).json().then(asJson)).flow;
    // A record the CLI quarantined: no flow tag in its options.
    const id = await addQuarantine(h.typed, {
      runId: 'cli-run',
      operation: 'candidate.create',
      rowNumber: 1,
      errorCode: 'invalid_input',
      errorMessage: 'refused',
      raw: { name: 'Cli Person', email: 'cli.person@example.com' },
      options: {},
    });
    const without = await call('POST', '/api/v1/quarantine/replay', { ids: [String(id)] });
    expect(without.status).toBe(422);
    const result = await (
      await call('POST', '/api/v1/quarantine/replay', { ids: [String(id)], flowId: flow.id })
    )
      .json()
      .then(asJson);
    expect(result).toMatchObject({ replayed: 1, failed: 0 });
    expect(sandbox.stats().writes['candidate.create']).toBe(1);
  });

  it('dry-runs a saved source flow: a few records per stream read, nothing written to the target', async () => {
    const cred = await (await call('POST', '/api/v1/credentials', { name: 'src', apiKey: KEY }))
      .json()
      .then(asJson);
    const target = `${h.data}/never.db`;
    const flow = (
      await (
        await call('POST', '/api/v1/flows', {
          kind: 'source',
          name: 'Source dry run',
          credentialId: cred.credential.id,
          streams: ['candidates', 'jobs'],
          target: { type: 'sqlite', path: target },
        })
      )
        .json()
        .then(asJson)
    ).flow;
    const { run } = await (await call('POST', `/api/v1/flows/${flow.id}/test`)).json().then(asJson);
    const ended = await h.deps.scheduler.waitFor(run.id);
    expect(ended).toMatchObject({ status: 'succeeded', dryRun: true });
    for (const c of ended?.counts ?? []) {
      expect(c.written).toBe(0);
      expect(c.read).toBeGreaterThan(0);
      expect(c.read).toBeLessThanOrEqual(5);
    }
    expect(ended?.counts.map((c) => c.name).sort()).toEqual(['candidates', 'jobs']);
    expect(existsSync(target)).toBe(false);
  });
});
