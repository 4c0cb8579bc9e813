import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openSink } from '../../src/sinks/index.js';
import { findStream, type ResolvedStream } from '../../src/streams/index.js';
import { syncToTarget } from '../../src/sync/index.js';
import { inboxFor, signBody } from '../../src/webhooks/index.js';
import { call } from '../sandbox/helpers.js';
import { assertBuilt, BIN } from '../support/built-cli.js';
import { expectedStreamRecords } from '../support/world-oracle.js';
import { DIALECTS, liveRecords, makeTarget, type TestTarget, withSink } from '../sync/helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SECRET = 'whsec-crash';

/** `node ARGS` as a child process, resolved with its URL once it says it listens; `out` collects its stdout. */
function listening(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; url: string; out: () => string }> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /^listening on (http:\/\/127\.0\.0\.1:\d+\/webhooks\/ashby)$/m.exec(out);
      if (m?.[1]) resolve({ child, url: m[1], out: () => out });
    });
    child.on('exit', (code) => reject(new Error(`receiver exited with ${code}: ${out}${err}`)));
  });
}

/** The built `ashpipe webhooks receive` as a child process. */
function receive(target: string, sandbox: Sandbox, home: string) {
  assertBuilt();
  return listening(
    [
      BIN,
      'webhooks',
      'receive',
      '--to',
      target,
      '--secret-env',
      'HOOK_SECRET',
      '--api-key-env',
      'HOOK_KEY',
      '--base-url',
      sandbox.url,
      '--port',
      '0',
    ],
    { HOOK_SECRET: SECRET, HOOK_KEY: 'sandbox-full', ASHPIPE_HOME: home },
  );
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

async function until(check: () => Promise<boolean> | boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('a receiver killed between the 200 and the apply', () => {
  let sandbox: Sandbox;
  let dir: string;
  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 10, seed: 2 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-crash-'));
  });
  afterAll(async () => {
    await sandbox?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('applies the stored events after a restart', async () => {
    const target = `jsonl:${path.join(dir, 'out')}`;
    // Holding the stream's lock keeps the receiver from applying: the events wait in the inbox.
    const holder = openSink(target);
    await holder.open();
    const lock = await holder.lock('applications', 'test');
    expect(lock.acquired).toBe(true);
    const first = await receive(target, sandbox, dir);
    const bodies = Array.from({ length: 5 }, (_, i) =>
      JSON.stringify({
        webhookActionId: `crash-${i}`,
        action: 'applicationUpdate',
        data: { application: { id: `app-${i}`, status: 'Active', updatedAt: '2026-01-01T00:00:00.000Z' } },
      }),
    );
    for (const body of bodies) {
      const res = await fetch(first.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'ashby-signature': signBody(body, SECRET) },
        body,
      });
      expect(res.status).toBe(200);
    }
    await kill9(first.child);
    expect(await holder.readRows('applications')).toEqual([]);
    if (lock.acquired) await lock.lock.release();

    const second = await receive(target, sandbox, dir);
    try {
      const deadline = Date.now() + 20_000;
      let ids: string[] = [];
      while (Date.now() < deadline) {
        ids = (await holder.readRows('applications')).map((r) => JSON.parse(String(r._ashpipe_raw)).id);
        if (ids.length === 5) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(ids).toEqual(['app-0', 'app-1', 'app-2', 'app-3', 'app-4']);
      const inbox = inboxFor(target);
      await inbox.open();
      const stats = await inbox.stats('1970-01-01T00:00:00.000Z');
      await inbox.close();
      expect({ applied: stats.applied, pending: stats.pending, parked: stats.parked }).toEqual({
        applied: 5,
        pending: 0,
        parked: 0,
      });
    } finally {
      second.child.kill('SIGTERM');
      await holder.close();
    }
  }, 60_000);
});

type R = Record<string, unknown> & { id: string };
const STREAMS = [findStream('applications') as ResolvedStream];

describe.each(DIALECTS.filter((d) => d !== 'jsonl'))(
  'a receiver killed with SIGKILL after the 200 and before the apply, on %s',
  (dialect) => {
    let sandbox: Sandbox;
    let t: TestTarget;
    let home: string;
    beforeAll(async () => {
      sandbox = await startSandbox({ scale: 20, seed: 4, webhookRetryBaseMs: 5 });
      t = await makeTarget(dialect);
      home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-crash-'));
      const summary = await syncToTarget({
        apiKey: 'sandbox-full',
        baseUrl: sandbox.url,
        target: t.target,
        streams: STREAMS,
      });
      expect(summary.exitCode).toBe(0);
    });
    afterAll(async () => {
      await sandbox?.close();
      await t?.cleanup();
      fs.rmSync(home, { recursive: true, force: true });
    });

    it('applies every acknowledged event exactly once after a restart; the table equals the sandbox', async () => {
      // A receiver whose sink hangs in its first write: every event is acknowledged, none applied.
      assertBuilt();
      const first = await listening(['test/webhooks/fixtures/slow-receiver.mjs', t.target, sandbox.url], {
        HOOK_SECRET: SECRET,
      });
      for (const webhookType of ['candidateStageChange', 'applicationSubmit']) {
        const hook = await call(sandbox, 'webhook.create', {
          webhookType,
          requestUrl: first.url,
          secretToken: SECRET,
        });
        expect(hook.body.success).toBe(true);
      }
      // Stage changes of six applications and two new applications, made in the sandbox.
      const apps = expectedStreamRecords(sandbox, 'applications') as R[];
      const active = apps.filter((a) => a.status === 'Active').slice(0, 6);
      expect(active).toHaveLength(6);
      for (const app of active) {
        const stage = app.currentInterviewStage as R;
        const stages = (
          await call(sandbox, 'interviewStage.list', { interviewPlanId: stage.interviewPlanId })
        ).body.results as R[];
        const next = stages.find((s) => s.type === 'Active' && s.id !== stage.id) as R;
        const moved = await call(sandbox, 'application.changeStage', {
          applicationId: app.id,
          interviewStageId: next.id,
        });
        expect(moved.body.success).toBe(true);
      }
      const jobs = (expectedStreamRecords(sandbox, 'jobs') as R[]).filter((j) => j.status === 'Open');
      const candidates = (expectedStreamRecords(sandbox, 'candidates') as R[]).slice(-2);
      for (const candidate of candidates) {
        const created = await call(sandbox, 'application.create', {
          candidateId: candidate.id,
          jobId: (jobs[0] as R).id,
        });
        expect(created.body.success).toBe(true);
      }
      const events = 8;
      await until(
        () =>
          sandbox.webhookDeliveries().filter((d) => d.action !== 'ping' && d.status === 200).length ===
          events,
        'eight acknowledged deliveries',
      );
      await until(() => first.out().includes('applying'), 'the first write');
      await kill9(first.child);

      const inbox = inboxFor(t.target);
      await inbox.open();
      try {
        const before = await inbox.stats('1970-01-01T00:00:00.000Z');
        expect({ pending: before.pending, applied: before.applied }).toEqual({ pending: events, applied: 0 });
        const stale = await withSink(t.target, (sink) => liveRecords(sink, 'applications'));
        expect(stale).not.toEqual(expectedStreamRecords(sandbox, 'applications'));

        const second = await receive(t.target, sandbox, home);
        try {
          await until(
            async () => (await inbox.stats('1970-01-01T00:00:00.000Z')).applied === events,
            'the stored events applied',
          );
        } finally {
          second.child.kill('SIGTERM');
        }
        const after = await inbox.stats('1970-01-01T00:00:00.000Z');
        expect({ applied: after.applied, pending: after.pending, parked: after.parked }).toEqual({
          applied: events,
          pending: 0,
          parked: 0,
        });
        // Each event once: eight distinct action ids, none retried (no failed attempt recorded).
        const appliedEvents = await inbox.list('applied');
        expect(new Set(appliedEvents.map((e) => e.actionId)).size).toBe(events);
        expect(appliedEvents.every((e) => e.attempts === 0)).toBe(true);
      } finally {
        await inbox.close();
      }
      expect(await withSink(t.target, (sink) => liveRecords(sink, 'applications'))).toEqual(
        expectedStreamRecords(sandbox, 'applications'),
      );
    }, 90_000);
  },
);
