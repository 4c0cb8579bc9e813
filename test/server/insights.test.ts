import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ANALYTICS_VIEWS } from '../../src/analytics/index.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import type { Rec } from '../../src/sandbox/world.js';
import { worldRecords } from '../support/world-oracle.js';
import { POSTGRES_URL } from '../sync/helpers.js';
import { asJson, type Harness, harness, signedInHeaders } from './helpers.js';

// The tables every view reads, and departments for the filter's names.
const STREAMS = [
  'jobs',
  'departments',
  'applications',
  'application_stage_history',
  'offers',
  'interview_schedules',
];
const PG_SCHEMA = `insights_${process.pid}`;
const DIALECTS: Array<'sqlite' | 'postgres'> = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];

let sandbox: Sandbox;
let h: Harness | undefined;
beforeAll(async () => {
  // Scale 100: 5 jobs in 3 departments, 130 applications, 7 of them hired.
  sandbox = await startSandbox({ port: 0, scale: 100, seed: 7 });
});
afterAll(async () => {
  await sandbox.close();
  if (POSTGRES_URL) {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS "${PG_SCHEMA}" CASCADE`);
      await client.query(`DROP SCHEMA IF EXISTS "${PG_SCHEMA}_plain" CASCADE`);
    } finally {
      await client.end();
    }
  }
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});

// --- the answers, from the sandbox's world directly --------------------------------------------------

function historyOf(app: Rec): Rec[] {
  return Array.isArray(app.applicationHistory)
    ? (app.applicationHistory as Rec[])
    : sandbox.world.historyOf(app);
}
const jobIdOf = (app: Rec) => String((app.job as Rec | undefined)?.id ?? app.jobId);
const jobs = () => worldRecords(sandbox.world, 'job');
const apps = () => worldRecords(sandbox.world, 'application');

/** Applications entering a stage, summed over the stages of the jobs `keep` admits. */
function entered(keep: (jobId: string) => boolean): number {
  return apps()
    .filter((a) => keep(jobIdOf(a)))
    .reduce((n, a) => n + new Set(historyOf(a).map((e) => e.stageId)).size, 0);
}

/** Stays that ended (entries with a `leftStageAt`) of the jobs `keep` admits. */
function stays(keep: (jobId: string) => boolean): number {
  return apps()
    .filter((a) => keep(jobIdOf(a)))
    .reduce((n, a) => n + historyOf(a).filter((e) => typeof e.leftStageAt === 'string').length, 0);
}

/** Hired applications with the day they entered their latest stage. */
function hires(): Array<{ jobId: string; sourceId: string | null; day: string }> {
  return apps()
    .filter((a) => a.status === 'Hired')
    .map((a) => {
      const last = [...historyOf(a)].sort((x, y) =>
        String(y.enteredStageAt).localeCompare(String(x.enteredStageAt)),
      )[0];
      const source = a.source as Rec | undefined;
      return {
        jobId: jobIdOf(a),
        sourceId: typeof source?.id === 'string' ? source.id : null,
        day: String(last?.enteredStageAt).slice(0, 10),
      };
    });
}

const sum = (rows: Array<Record<string, unknown>>, column: string) =>
  rows.reduce((n, r) => n + Number(r[column]), 0);

// --- the server --------------------------------------------------------------------------------------

async function until<T>(
  what: string,
  read: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function signedIn() {
  const harnessed = await harness({ baseUrl: sandbox.url, realSource: true });
  h = harnessed;
  const headers = await signedInHeaders(harnessed);
  const call = async (method: string, p: string, body?: unknown) => {
    const res = await harnessed.request(p, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: await res.json().then(asJson) };
  };
  const cred = await call('POST', '/api/v1/credentials', { name: 'insights', apiKey: 'sandbox-full' });
  expect(cred.status).toBe(201);
  return { harnessed, call, credentialId: cred.body.credential.id as string };
}

type Call = Awaited<ReturnType<typeof signedIn>>['call'];

/** Creates a source flow, runs it once, and answers the flow and the finished run. */
async function flowRun(call: Call, target: Record<string, unknown>, options: Record<string, unknown>) {
  const created = await call('POST', '/api/v1/flows', {
    kind: 'source',
    name: `Insights ${Math.random().toString(36).slice(2, 7)}`,
    credentialId: (await call('GET', '/api/v1/credentials')).body.credentials[0].id,
    streams: STREAMS,
    target,
    options,
  });
  expect(created.status).toBe(201);
  const flowId: string = created.body.flow.id;
  const started = await call('POST', `/api/v1/flows/${flowId}/run`);
  expect(started.status).toBe(202);
  const runId: string = started.body.run.id;
  const run = await until('the run to end', async () => {
    const r = await h?.deps.store.getRun(runId);
    return r && r.status !== 'running' ? r : undefined;
  });
  expect(run.errors).toEqual([]);
  return { flowId, runId };
}

function targetFor(dialect: 'sqlite' | 'postgres', home: string, name: string): Record<string, unknown> {
  return dialect === 'sqlite'
    ? { type: 'sqlite', path: path.join(home, 'data', `${name}.db`) }
    : { type: 'postgres', url: POSTGRES_URL, schema: name === 'plain' ? `${PG_SCHEMA}_plain` : PG_SCHEMA };
}

describe.each(DIALECTS)('the insights routes on %s', (dialect) => {
  it('answer the views filtered by job, department and date range, with the numbers of the world', async () => {
    const { harnessed, call } = await signedIn();
    const { flowId, runId } = await flowRun(call, targetFor(dialect, harnessed.home, 'insights'), {
      analytics: true,
    });

    // The run record lists the views it installed.
    const run = await call('GET', `/api/v1/runs/${runId}`);
    expect(run.body.run.analytics).toEqual({ installed: ANALYTICS_VIEWS.map((v) => v.name), skipped: [] });

    const status = await call('GET', `/api/v1/flows/${flowId}/insights`);
    expect(status.status).toBe(200);
    expect(status.body.target).toBe(dialect);
    expect(status.body.supported).toBe(true);
    expect(status.body.views.filter((v: { installed: boolean }) => !v.installed)).toEqual([]);
    const worldJobs = jobs();
    expect(status.body.jobs.map((j: { id: string }) => j.id).sort()).toEqual(
      worldJobs.map((j) => j.id).sort(),
    );
    const departmentIds = [...new Set(worldJobs.map((j) => String(j.departmentId)))].sort();
    expect(status.body.departments.map((d: { id: string }) => d.id).sort()).toEqual(departmentIds);
    // Departments are synced: each is named as the world names it.
    const worldDepartments = new Map(worldRecords(sandbox.world, 'department').map((d) => [d.id, d.name]));
    for (const d of status.body.departments) expect(d.name).toBe(worldDepartments.get(d.id));

    const view = (name: string, query = '') =>
      call('GET', `/api/v1/flows/${flowId}/insights/${name}${query}`);

    // The funnel: every job, one job, one department.
    const funnel = await view('application_funnel');
    expect(funnel.status).toBe(200);
    expect(funnel.body.view).toBe('analytics_application_funnel');
    expect(sum(funnel.body.rows, 'entered')).toBe(entered(() => true));
    const job = worldJobs.find((j) => apps().some((a) => jobIdOf(a) === j.id)) as Rec;
    const oneJob = await view('application_funnel', `?jobId=${job.id}`);
    expect(new Set(oneJob.body.rows.map((r: { job_id: string }) => r.job_id))).toEqual(new Set([job.id]));
    expect(sum(oneJob.body.rows, 'entered')).toBe(entered((id) => id === job.id));
    expect(oneJob.body.filters).toEqual({ jobId: job.id, departmentId: null, from: null, to: null });
    const department = String(job.departmentId);
    const inDepartment = new Set(worldJobs.filter((j) => j.departmentId === department).map((j) => j.id));
    const byDepartment = await view('application_funnel', `?departmentId=${department}`);
    expect(sum(byDepartment.body.rows, 'entered')).toBe(entered((id) => inDepartment.has(id)));
    expect(sum(byDepartment.body.rows, 'entered')).toBeLessThan(sum(funnel.body.rows, 'entered'));

    // Time in stage: the stays that ended; every sandbox stay lasts three days.
    const time = await view('time_in_stage', `?departmentId=${department}`);
    expect(sum(time.body.rows, 'stays')).toBe(stays((id) => inDepartment.has(id)));
    for (const r of time.body.rows)
      expect([r.median_seconds, r.p90_seconds]).toEqual([3 * 86_400, 3 * 86_400]);

    // Hires by source over time, and a date range that keeps the later half.
    const worldHires = hires();
    expect(worldHires.length).toBeGreaterThan(1);
    const all = await view('hires_by_source');
    expect(sum(all.body.rows, 'hires')).toBe(worldHires.length);
    const days = worldHires.map((x) => x.day).sort();
    const from = days[Math.floor(days.length / 2)] as string;
    const later = await view('hires_by_source', `?from=${from}`);
    expect(later.body.dateRangeApplied).toBe(true);
    expect(sum(later.body.rows, 'hires')).toBe(worldHires.filter((x) => x.day >= from).length);
    const to = days[0] as string;
    const first = await view('hires_by_source', `?to=${to}`);
    expect(sum(first.body.rows, 'hires')).toBe(worldHires.filter((x) => x.day <= to).length);
    for (const r of all.body.rows) {
      const expected = worldHires.filter(
        (x) => x.day === r.hired_on && x.jobId === r.job_id && x.sourceId === r.source_id,
      ).length;
      expect(r.hires).toBe(expected);
    }

    // Open jobs aging, by department; the funnel has no date, so the range leaves it whole.
    const open = await view('open_jobs_aging', `?departmentId=${department}`);
    expect(open.body.rows.map((r: { job_id: string }) => r.job_id).sort()).toEqual(
      worldJobs
        .filter((j) => j.status === 'Open' && j.departmentId === department)
        .map((j) => j.id)
        .sort(),
    );
    const ranged = await view('application_funnel', `?from=${from}`);
    expect(ranged.body.dateRangeApplied).toBe(false);
    expect(sum(ranged.body.rows, 'entered')).toBe(sum(funnel.body.rows, 'entered'));

    // Bad input names what is wrong.
    const badDay = await view('hires_by_source', '?from=2026-02-30');
    expect(badDay.status).toBe(422);
    expect(badDay.body.error.message).toMatch(/^from: expected a day as YYYY-MM-DD/);
    const reversed = await view('hires_by_source', '?from=2026-02-01&to=2026-01-01');
    expect(reversed.status).toBe(422);
    const unknown = await view('interviewer_load');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toMatch(
      /application_funnel, time_in_stage, hires_by_source, open_jobs_aging/,
    );
  });

  it('answer 409 until the views are installed, and install them in one call', async () => {
    const { harnessed, call } = await signedIn();
    const { flowId, runId } = await flowRun(call, targetFor(dialect, harnessed.home, 'plain'), {});
    expect((await call('GET', `/api/v1/runs/${runId}`)).body.run.analytics).toBeNull();
    const before = await call('GET', `/api/v1/flows/${flowId}/insights`);
    expect(before.body.views.some((v: { installed: boolean }) => v.installed)).toBe(false);
    const refused = await call('GET', `/api/v1/flows/${flowId}/insights/application_funnel`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('analytics_not_installed');
    const installed = await call('POST', `/api/v1/flows/${flowId}/insights/install`);
    expect(installed.status).toBe(200);
    expect(installed.body.views.map((v: { name: string; status: string }) => [v.name, v.status])).toEqual(
      ANALYTICS_VIEWS.map((v) => [v.name, 'installed']),
    );
    expect(installed.body.status.views.every((v: { installed: boolean }) => v.installed)).toBe(true);
    const funnel = await call('GET', `/api/v1/flows/${flowId}/insights/application_funnel`);
    expect(funnel.status).toBe(200);
    expect(sum(funnel.body.rows, 'entered')).toBe(entered(() => true));
  });
});

describe('the insights routes on a JSONL flow', () => {
  it('say the target cannot have insights, and refuse views with a 422', async () => {
    const { call, credentialId } = await signedIn();
    const created = await call('POST', '/api/v1/flows', {
      kind: 'source',
      name: 'Files',
      credentialId,
      streams: ['jobs'],
      target: { type: 'jsonl', path: 'exports' },
    });
    const flowId: string = created.body.flow.id;
    const status = await call('GET', `/api/v1/flows/${flowId}/insights`);
    expect(status.body).toEqual({ target: 'jsonl', supported: false, views: [], jobs: [], departments: [] });
    for (const [method, p] of [
      ['GET', `/api/v1/flows/${flowId}/insights/application_funnel`],
      ['POST', `/api/v1/flows/${flowId}/insights/install`],
    ] as const) {
      const refused = await call(method, p);
      expect(refused.status).toBe(422);
      expect(refused.body.error.code).toBe('insights_need_sql_target');
      expect(refused.body.error.message).toMatch(/^Insights need a SQLite or PostgreSQL target/);
    }
  });
});

describe('the insights routes against a target that cannot serve them', () => {
  it('answer 502 with the reason, never the password, when the PostgreSQL target is unreachable', async () => {
    const { call, credentialId } = await signedIn();
    const password = 'pw-insights-9f3e2a';
    const created = await call('POST', '/api/v1/flows', {
      kind: 'source',
      name: 'Gone',
      credentialId,
      streams: ['jobs'],
      // Port 1 on the loopback: nothing listens, the connection is refused at once.
      target: { type: 'postgres', url: `postgres://ashpipe:${password}@127.0.0.1:1/warehouse` },
    });
    expect(created.status).toBe(201);
    const flowId: string = created.body.flow.id;
    for (const [method, p] of [
      ['GET', `/api/v1/flows/${flowId}/insights`],
      ['GET', `/api/v1/flows/${flowId}/insights/application_funnel`],
      ['POST', `/api/v1/flows/${flowId}/insights/install`],
    ] as const) {
      const answer = await call(method, p);
      expect(answer.status).toBe(502);
      expect(answer.body.error.code).toBe('target_unreachable');
      expect(answer.body.error.message).toMatch(/^The flow's target could not be read: .*ECONNREFUSED/);
      expect(JSON.stringify(answer.body)).not.toContain(password);
    }
  });

  it('a run records the views it left out with the tables they lack', async () => {
    const { harnessed, call, credentialId } = await signedIn();
    const created = await call('POST', '/api/v1/flows', {
      kind: 'source',
      name: 'Jobs only',
      credentialId,
      streams: ['jobs', 'applications'],
      target: { type: 'sqlite', path: path.join(harnessed.home, 'data', 'jobs-only.db') },
      options: { analytics: true },
    });
    const flowId: string = created.body.flow.id;
    const runId: string = (await call('POST', `/api/v1/flows/${flowId}/run`)).body.run.id;
    await until('the run to end', async () => {
      const r = await h?.deps.store.getRun(runId);
      return r && r.status !== 'running' ? r : undefined;
    });
    const run = (await call('GET', `/api/v1/runs/${runId}`)).body.run;
    // Written out by hand from each view's tables: jobs and applications alone serve two of them.
    expect(run.analytics.installed).toEqual(['analytics_open_jobs_aging']);
    expect(run.analytics.skipped).toEqual([
      { name: 'analytics_application_funnel', missing: ['application_stage_history'] },
      { name: 'analytics_time_in_stage', missing: ['application_stage_history'] },
      { name: 'analytics_time_to_hire', missing: ['application_stage_history'] },
      { name: 'analytics_time_to_fill', missing: ['application_stage_history'] },
      { name: 'analytics_source_effectiveness', missing: ['interview_schedules', 'offers'] },
      { name: 'analytics_hires_by_source', missing: ['application_stage_history'] },
      { name: 'analytics_offer_acceptance', missing: ['offers'] },
      { name: 'analytics_interviewer_load', missing: ['interview_schedules'] },
    ]);
    // The page's status says the same, so it can tell a person which streams to sync.
    const status = (await call('GET', `/api/v1/flows/${flowId}/insights`)).body;
    expect(status.views.find((v: { name: string }) => v.name === 'analytics_application_funnel')).toEqual({
      name: 'analytics_application_funnel',
      installed: false,
      missing: ['application_stage_history'],
    });
  });
});
