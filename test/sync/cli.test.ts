import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import type { SyncSummary } from '../../src/sync/index.js';
import { makeTarget, type TestTarget } from './helpers.js';

function capture() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    streams: {
      stdout: { write: (s: string) => (out.stdout += s) },
      stderr: { write: (s: string) => (out.stderr += s) },
    },
  };
}

// Run logs go to $ASHPIPE_HOME/logs: keep them out of the working directory.
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-sync-cli-'));

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const { out, streams } = capture();
  const code = await main(['node', 'ashpipe', ...args], { streams, env: { ASHPIPE_HOME: home, ...env } });
  return { code, ...out };
}

describe('ashpipe streams and ashpipe sync', () => {
  let sandbox: Sandbox;
  const targets: TestTarget[] = [];
  beforeAll(async () => {
    sandbox = await startSandbox({
      scale: 30,
      keys: [{ key: 'jobs-only-key', scopes: ['jobsRead'], confidential: false }],
    });
  });
  afterAll(async () => {
    await sandbox?.close();
    for (const t of targets) await t.cleanup();
  });

  it('lists every stream with endpoint, mode, permission, key, parent and cost', async () => {
    const r = await cli(['streams', '--json']);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout).streams as Array<Record<string, unknown>>;
    const stages = list.find((s) => s.name === 'interview_stages');
    expect(stages).toMatchObject({
      endpoint: 'interviewStage.list',
      mode: 'full',
      scope: 'interviewsRead',
      module: 'Interviews: Read',
      primaryKey: ['id'],
      parent: { stream: 'interview_plans', field: 'id', param: 'interviewPlanId' },
    });
    expect(String(stages?.cost)).toContain('each interview plan');
    expect(list.find((s) => s.name === 'candidates')).toMatchObject({ mode: 'incremental', parent: null });
    const human = await cli(['streams']);
    expect(human.stdout).toContain('candidate_notes *');
  });

  it('prints the summary as JSON on stdout and progress on stderr', async () => {
    const t = await makeTarget('sqlite');
    targets.push(t);
    const args = [
      'sync',
      '--base-url',
      sandbox.url,
      '--to',
      t.target,
      '--streams',
      'jobs,candidates',
      '--json',
    ];
    const r = await cli(args, { ASHBY_API_KEY: 'sandbox-full' });
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as SyncSummary;
    expect(summary.streams.map((s) => [s.stream, s.status, s.mode])).toEqual([
      ['jobs', 'ok', 'full'],
      ['candidates', 'ok', 'full'],
    ]);
    // Off a terminal, progress is periodic lines on stderr; nothing of the summary leaks there.
    expect(r.stderr).not.toContain('"streams"');
    const again = JSON.parse((await cli(args, { ASHBY_API_KEY: 'sandbox-full' })).stdout) as SyncSummary;
    expect(again.streams.map((s) => s.mode)).toEqual(['incremental', 'incremental']);
  });

  it('exits 3 and names scope and module when the key cannot read a stream', async () => {
    const t = await makeTarget('sqlite');
    targets.push(t);
    const r = await cli(
      ['sync', '--base-url', sandbox.url, '--to', t.target, '--streams', 'jobs,candidates'],
      {
        ASHBY_API_KEY: 'jobs-only-key',
      },
    );
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/candidates\s+skipped/);
    expect(r.stdout).toContain('Candidates: Read (candidatesRead)');
  });

  it('exits 1 at once on a bad key, without printing it', async () => {
    const t = await makeTarget('sqlite');
    targets.push(t);
    const r = await cli(
      ['sync', '--base-url', sandbox.url, '--to', t.target, '--streams', 'jobs,candidates'],
      {
        ASHBY_API_KEY: 'not-a-real-key-123456',
      },
    );
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).not.toContain('not-a-real-key-123456');
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('refused the API key');
  });

  it('exits 2 for an unknown stream or a bad duration', async () => {
    const env = { ASHBY_API_KEY: 'sandbox-full' };
    const unknown = await cli(['sync', '--base-url', sandbox.url, '--streams', 'candidates,nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown stream: nope');
    const bad = await cli(['sync', '--base-url', sandbox.url, '--reconcile-after', 'soon'], env);
    expect(bad.code).toBe(2);
    const refresh = await cli(['sync', '--base-url', sandbox.url, '--refresh-after', '12h,users=1h'], env);
    expect(refresh.code).toBe(2);
    expect(refresh.stderr).toContain('--refresh-after: "users=1h": users has a sync token');
  });
});
