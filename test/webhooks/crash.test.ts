import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openSink } from '../../src/sinks/index.js';
import { inboxFor, signBody } from '../../src/webhooks/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SECRET = 'whsec-crash';

/** `ashpipe webhooks receive` as a child process; resolves with its URL once it says it listens. */
function receive(target: string, sandbox: Sandbox): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'test/push/cli-entry.ts',
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
    {
      cwd: ROOT,
      env: {
        ...process.env,
        HOOK_SECRET: SECRET,
        HOOK_KEY: 'sandbox-full',
        ASHPIPE_HOME: path.dirname(target.slice(6)),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /^listening on (http:\/\/127\.0\.0\.1:\d+\/webhooks\/ashby)$/m.exec(out);
      if (m?.[1]) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`receiver exited with ${code}: ${out}${err}`)));
  });
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
    const first = await receive(target, sandbox);
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
    const exited = new Promise((r) => first.child.once('exit', r));
    first.child.kill('SIGKILL');
    await exited;
    expect(await holder.readRows('applications')).toEqual([]);
    if (lock.acquired) await lock.lock.release();

    const second = await receive(target, sandbox);
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
