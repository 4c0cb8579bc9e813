import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ANALYTICS_VIEWS } from '../../src/analytics/index.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { worldRecords } from '../support/world-oracle.js';
import { POSTGRES_URL } from '../sync/helpers.js';
import { asJson, type Harness, harness, signedInHeaders } from './helpers.js';

// The tables every view reads: with all of them synced, every view is installed.
const STREAMS = ['jobs', 'applications', 'application_stage_history', 'offers', 'interview_schedules'];
const PG_SCHEMA = `flow_analytics_${process.pid}`;

let sandbox: Sandbox;
let h: Harness | undefined;
beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, scale: 20, seed: 7 });
});
afterAll(async () => {
  await sandbox.close();
  if (POSTGRES_URL) {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS "${PG_SCHEMA}" CASCADE`);
    } finally {
      await client.end();
    }
  }
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function until<T>(
  what: string,
  read: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every (application, stage) pair of the sandbox's histories, counted from its world directly. */
function stageEntries(): number {
  const world = sandbox.world;
  return worldRecords(world, 'application').reduce((n, a) => {
    const history = Array.isArray(a.applicationHistory)
      ? (a.applicationHistory as Array<Record<string, unknown>>)
      : world.historyOf(a);
    return n + new Set(history.map((e) => e.stageId)).size;
  }, 0);
}

async function signedIn() {
  const harnessed = await harness({ baseUrl: sandbox.url, realSource: true });
  h = harnessed;
  const headers = await signedInHeaders(harnessed);
  const call = async (method: string, p: string, body?: unknown) =>
    harnessed.request(p, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const cred = await call('POST', '/api/v1/credentials', { name: 'analytics', apiKey: 'sandbox-full' });
  expect(cred.status).toBe(201);
  const credentialId: string = (await cred.json().then(asJson)).credential.id;
  return { harnessed, call, credentialId };
}

/** Creates a flow with `options.analytics` on, runs it once and waits for the run to end. */
async function runWithAnalytics(targetIn: (home: string) => Record<string, unknown>) {
  const { harnessed, call, credentialId } = await signedIn();
  const target = targetIn(harnessed.home);
  const created = await call('POST', '/api/v1/flows', {
    kind: 'source',
    name: 'With analytics',
    credentialId,
    streams: STREAMS,
    target,
    options: { analytics: true },
  });
  expect(created.status).toBe(201);
  const flow = (await created.json().then(asJson)).flow;
  expect(flow.config.options.analytics).toBe(true);
  const started = await call('POST', `/api/v1/flows/${flow.id}/run`);
  expect(started.status).toBe(202);
  const runId: string = (await started.json().then(asJson)).run.id;
  const run = await until('the run to end', async () => {
    const r = await harnessed.deps.store.getRun(runId);
    return r && r.status !== 'running' ? r : undefined;
  });
  expect(run.errors).toEqual([]);
  expect(run.status).toBe('succeeded');
  return { call, flowId: flow.id as string, target };
}

describe('a source flow with options.analytics', () => {
  it('installs the views in its SQLite target after a run, and again after the next one', async () => {
    const { call, flowId, target } = await runWithAnalytics((home) => ({
      type: 'sqlite',
      path: path.join(home, 'data', 'analytics.db'),
    }));
    const read = () => {
      const db = openSqlite(String(target.path), { readonly: true });
      try {
        const views = db
          // The sink's own view (custom_field_values) apart.
          .prepare(
            `SELECT name FROM sqlite_master WHERE type = 'view' AND name LIKE 'analytics%' ORDER BY name`,
          )
          .all() as Array<{ name: string }>;
        const funnel = db.prepare('SELECT entered FROM analytics_application_funnel').all() as Array<{
          entered: number;
        }>;
        return { views: views.map((v) => v.name), funnel };
      } finally {
        db.close();
      }
    };
    const first = read();
    expect(first.views).toEqual(ANALYTICS_VIEWS.map((v) => v.name).sort());
    expect(first.funnel.length).toBeGreaterThan(0);
    expect(first.funnel.reduce((n, r) => n + r.entered, 0)).toBe(stageEntries());
    // A second run replaces the views rather than failing on them.
    const again = await call('POST', `/api/v1/flows/${flowId}/run`);
    expect(again.status).toBe(202);
    const runId: string = (await again.json().then(asJson)).run.id;
    const run = await until('the second run to end', async () => {
      const r = await h?.deps.store.getRun(runId);
      return r && r.status !== 'running' ? r : undefined;
    });
    expect(run.errors).toEqual([]);
    expect(run.status).toBe('succeeded');
    expect(read().views).toEqual(first.views);
  });

  it('a view that cannot be installed makes the run partial with the reason, the synced data kept', async () => {
    const { harnessed, call, credentialId } = await signedIn();
    const file = path.join(harnessed.home, 'data', 'blocked.db');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // A table under a view's name: SQLite will not drop it as a view.
    const setup = openSqlite(file);
    setup.prepare('CREATE TABLE analytics_application_funnel (x INTEGER)').run();
    setup.close();
    const created = await call('POST', '/api/v1/flows', {
      kind: 'source',
      name: 'Blocked analytics',
      credentialId,
      streams: STREAMS,
      target: { type: 'sqlite', path: file },
      options: { analytics: true },
    });
    const flowId: string = (await created.json().then(asJson)).flow.id;
    const runId: string = (await (await call('POST', `/api/v1/flows/${flowId}/run`)).json().then(asJson)).run
      .id;
    const run = await until('the run to end', async () => {
      const r = await harnessed.deps.store.getRun(runId);
      return r && r.status !== 'running' ? r : undefined;
    });
    expect(run.status).toBe('partial');
    expect(run.errors).toEqual([
      expect.objectContaining({ scope: 'analytics', code: 'analytics_install_failed' }),
    ]);
    const db = openSqlite(file, { readonly: true });
    try {
      const apps = db.prepare('SELECT count(*) AS n FROM applications').get() as { n: number };
      expect(apps.n).toBe(worldRecords(sandbox.world, 'application').length);
    } finally {
      db.close();
    }
  });

  it.skipIf(!POSTGRES_URL)('installs the views in its PostgreSQL schema after a run', async () => {
    await runWithAnalytics(() => ({ type: 'postgres', url: POSTGRES_URL, schema: PG_SCHEMA }));
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const views = await client.query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.views WHERE table_schema = $1 ORDER BY table_name',
        [PG_SCHEMA],
      );
      expect(views.rows.map((r) => r.table_name)).toEqual(ANALYTICS_VIEWS.map((v) => v.name).sort());
      const funnel = await client.query<{ entered: string | number }>(
        `SELECT entered FROM "${PG_SCHEMA}".analytics_application_funnel`,
      );
      expect(funnel.rows.length).toBeGreaterThan(0);
      expect(funnel.rows.reduce((n, r) => n + Number(r.entered), 0)).toBe(stageEntries());
    } finally {
      await client.end();
    }
  });

  it('is refused with a 422 naming the field on a JSONL target, and when not a boolean', async () => {
    const { call, credentialId } = await signedIn();
    const body = (target: unknown, options: unknown) => ({
      kind: 'source',
      name: 'JSONL',
      credentialId,
      streams: STREAMS,
      target,
      options,
    });
    const jsonl = await call(
      'POST',
      '/api/v1/flows',
      body({ type: 'jsonl', path: 'exports' }, { analytics: true }),
    );
    expect(jsonl.status).toBe(422);
    const err = (await jsonl.json().then(asJson)).error;
    expect(err.message).toMatch(/^options\.analytics: .*JSONL/);
    expect(err.details).toEqual([
      { path: 'options.analytics', message: 'needs a SQLite or PostgreSQL target' },
    ]);
    const notBool = await call(
      'POST',
      '/api/v1/flows',
      body({ type: 'sqlite', path: 'a.db' }, { analytics: 'yes' }),
    );
    expect(notBool.status).toBe(422);
    // Off is fine on JSONL.
    const off = await call(
      'POST',
      '/api/v1/flows',
      body({ type: 'jsonl', path: 'exports' }, { analytics: false }),
    );
    expect(off.status).toBe(201);
  });
});
