import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYTICS_VIEWS } from '../../src/analytics/index.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { runCli } from '../support/cli.js';
import { worldRecords } from '../support/world-oracle.js';

describe('ashpipe analytics', () => {
  let sandbox: Sandbox;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let to: string;
  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 25, seed: 4 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-analytics-cli-'));
    env = { ASHPIPE_HOME: path.join(dir, 'home'), ASHBY_API_KEY: 'sandbox-full' };
    to = `sqlite:${path.join(dir, 'out.db')}`;
  });
  afterAll(async () => {
    await sandbox?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sync --analytics installs every view once the streams they read are synced', async () => {
    const streams = 'jobs,applications,application_stage_history,offers,interview_schedules';
    const r = await runCli(
      ['sync', '--to', to, '--base-url', sandbox.url, '--streams', streams, '--analytics'],
      env,
    );
    expect(r.err).toContain(
      `analytics: ${ANALYTICS_VIEWS.length} of ${ANALYTICS_VIEWS.length} views installed`,
    );
    expect(r.code).toBe(0);
  });

  it('analytics list says each view is installed', async () => {
    const r = await runCli(['analytics', 'list', '--to', to, '--json'], env);
    expect(r.code).toBe(0);
    const { views } = JSON.parse(r.out) as { views: Array<{ name: string; installed: boolean }> };
    expect(views.map((v) => [v.name, v.installed])).toEqual(ANALYTICS_VIEWS.map((v) => [v.name, true]));
  });

  it('analytics show prints the funnel, whose entries add up to the stages the applications went through', async () => {
    const r = await runCli(['analytics', 'show', 'application_funnel', '--to', to, '--json'], env);
    expect(r.code).toBe(0);
    const { rows } = JSON.parse(r.out) as { rows: Array<{ entered: number }> };
    // Every (application, stage) pair of the world's histories, counted from the world directly.
    const world = sandbox.world;
    const pairs = worldRecords(world, 'application').reduce((n, a) => {
      const history = Array.isArray(a.applicationHistory)
        ? (a.applicationHistory as Array<Record<string, unknown>>)
        : world.historyOf(a);
      return n + new Set(history.map((h) => h.stageId)).size;
    }, 0);
    expect(rows.reduce((n, row) => n + row.entered, 0)).toBe(pairs);
    const text = await runCli(['analytics', 'show', 'analytics_application_funnel', '--to', to], env);
    expect(text.out.split('\n')[0]).toMatch(/^job_id\s+job_title\s+stage_id/);
  });

  it('analytics show --csv prints a header and one line per row', async () => {
    const json = await runCli(['analytics', 'show', 'time_in_stage', '--to', to, '--json'], env);
    const { rows } = JSON.parse(json.out) as { rows: unknown[] };
    const r = await runCli(['analytics', 'show', 'time_in_stage', '--to', to, '--csv'], env);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toBe('job_id,job_title,stage_id,stage_title,stays,median_seconds,p90_seconds');
    expect(lines).toHaveLength(rows.length + 1);
  });

  it('refuses a JSONL target and an unknown view as usage errors', async () => {
    const jsonl = await runCli(['analytics', 'install', '--to', `jsonl:${path.join(dir, 'j')}`], env);
    expect(jsonl.code).toBe(2);
    expect(jsonl.err).toMatch(/SQL target/);
    const sync = await runCli(
      ['sync', '--to', `jsonl:${path.join(dir, 'j')}`, '--base-url', sandbox.url, '--analytics'],
      env,
    );
    expect(sync.code).toBe(2);
    expect(sync.err).toMatch(/--analytics needs a SQL target/);
    const unknown = await runCli(['analytics', 'show', 'nope', '--to', to], env);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown view/);
  });
});
