import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openSink } from '../../src/sinks/index.js';
import type { SyncSummary } from '../../src/sync/index.js';
import { runCli } from '../support/cli.js';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-wait-'));

describe('ashpipe sync --wait', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 20 });
  });
  afterAll(async () => {
    await sandbox?.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const sync = (target: string, ...more: string[]) =>
    runCli(['sync', '--base-url', sandbox.url, '--to', target, '--streams', 'candidates,users', ...more], {
      ASHBY_API_KEY: 'sandbox-full',
      ASHPIPE_HOME: home,
    });

  it('refuses a duration it cannot read', async () => {
    const r = await sync(`sqlite:${path.join(home, 'a.db')}`, '--wait', 'soon');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--wait: expected a duration like 30s, 10m or 0, got soon');
  });

  it('skips a locked stream after waiting, names the holder, syncs the others and exits 3', async () => {
    const target = `sqlite:${path.join(home, 'b.db')}`;
    const holder = openSink(target);
    await holder.open();
    const held = await holder.lock('candidates', 'a backfill');
    expect(held.acquired).toBe(true);
    try {
      const started = Date.now();
      const r = await sync(target, '--wait', '1s');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(r.code).toBe(3);
      // The summary's problems (stdout) and the progress lines (stderr) both say who holds it.
      expect(r.err).toContain('waiting up to 1.0s');
      // Joined again where the summary broke the line to fit 100 columns.
      expect(r.out.replace(/\n +/g, ' ')).toMatch(
        new RegExp(
          `candidates skipped: candidates is being synced by pid ${process.pid} on host .* \\(a backfill\\) since .* UTC; waited 1.0s, skipped`,
        ),
      );
      const json = await sync(target, '--json');
      const summary = JSON.parse(json.out) as SyncSummary;
      expect(summary.streams.map((s) => [s.stream, s.status])).toEqual([
        ['users', 'ok'],
        ['candidates', 'skipped'],
      ]);
    } finally {
      await holder.close();
    }
  });

  it('runs the stream once the holder is done, within the wait', async () => {
    const target = `sqlite:${path.join(home, 'c.db')}`;
    const holder = openSink(target);
    await holder.open();
    const held = await holder.lock('candidates');
    if (!held.acquired) throw new Error('not acquired');
    setTimeout(() => void held.lock.release(), 700);
    const r = await sync(target, '--wait', '30s', '--json');
    await holder.close();
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out) as SyncSummary;
    expect(summary.streams.find((s) => s.stream === 'candidates')).toMatchObject({
      status: 'ok',
      mode: 'full',
    });
  });
});
