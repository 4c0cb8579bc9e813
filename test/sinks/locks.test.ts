import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { LOCK_STALE_MS, LockLostError, type Sink, type StreamLock } from '../../src/sinks/index.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { assertBuilt } from '../support/built-cli.js';
import { KINDS, opened } from './harness.js';

const HOLDER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lock-holder.mjs');

/** Starts a process that takes `stream`'s lock in `target` and holds it; resolves once it holds it. */
async function holdInChild(target: string, stream: string): Promise<{ pid: number; kill(): Promise<void> }> {
  assertBuilt();
  const child = spawn(process.execPath, [HOLDER, target, stream], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
    });
    child.on('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  const { acquired, pid } = JSON.parse(line) as { acquired: boolean; pid: number };
  if (!acquired) throw new Error('the child could not take the lock');
  return {
    pid,
    kill: async () => {
      child.kill('SIGKILL');
      // Reaped: a zombie would still answer kill(pid, 0).
      await exited;
    },
  };
}

function lockOf(attempt: Awaited<ReturnType<Sink['lock']>>): StreamLock {
  if (!attempt.acquired) throw new Error(`not acquired: held by ${JSON.stringify(attempt.holder)}`);
  return attempt.lock;
}

for (const k of KINDS) {
  describe.skipIf(k.skip)(`${k.kind} sink: one writer per stream`, () => {
    const open: Sink[] = [];
    afterEach(async () => {
      vi.useRealTimers();
      for (const s of open.splice(0)) await s.close();
    });
    afterAll(async () => {
      await k.cleanup();
    });

    it('refuses a second holder, names the first, and frees the lock on release', async () => {
      const target = await k.target();
      const a = await opened(target, open);
      const b = await opened(target, open);
      const lock = lockOf(await a.lock('candidates', 'ashpipe sync'));
      // Another sink of the same target, even in this process, is another writer.
      const refused = await b.lock('candidates', 'second');
      expect(refused.acquired).toBe(false);
      if (refused.acquired) return;
      expect(refused.holder).toMatchObject({ pid: process.pid, host: os.hostname(), label: 'ashpipe sync' });
      expect(Date.now() - Date.parse(refused.holder?.since ?? '')).toBeLessThan(60_000);
      // The same sink asking twice is refused too.
      expect((await a.lock('candidates')).acquired).toBe(false);
      // Other streams are free.
      const jobs = lockOf(await b.lock('jobs'));
      lock.assertHeld();
      await lock.release();
      expect(() => lock.assertHeld()).toThrow(LockLostError);
      const again = lockOf(await b.lock('candidates'));
      await again.release();
      await jobs.release();
    });

    it('takes over the lock of a holder killed with SIGKILL', async () => {
      const target = await k.target();
      const sink = await opened(target, open);
      const holder = await holdInChild(target, 'applications');
      const refused = await sink.lock('applications');
      expect(refused).toMatchObject({ acquired: false, holder: { pid: holder.pid, label: 'lock-holder' } });
      await holder.kill();
      // Same host and the pid is gone (SQLite, JSONL); the session died with it (PostgreSQL).
      const lock = lockOf(await sink.lock('applications', 'after the crash'));
      await lock.release();
    }, 30_000);

    it('releases what it holds when closed', async () => {
      const target = await k.target();
      const a = await opened(target, open);
      lockOf(await a.lock('offers'));
      await a.close();
      const b = await opened(target, open);
      lockOf(await b.lock('offers'));
    });
  });
}

const [sqlite, postgres, jsonl] = KINDS;

describe('SQLite and JSONL lock records', () => {
  const open: Sink[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    for (const s of open.splice(0)) await s.close();
  });
  afterAll(async () => {
    await sqlite?.cleanup();
  });

  /** Writes a lock record as a run on another host would have left it. */
  function plantRecord(target: string, stream: string, heartbeatAgoMs: number): void {
    const beat = new Date(Date.now() - heartbeatAgoMs);
    if (target.startsWith('sqlite:')) {
      const db = openSqlite(target.slice('sqlite:'.length));
      db.prepare(
        'INSERT INTO _ashpipe_locks (stream, token, pid, host, since, heartbeat_at, label) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (stream) DO UPDATE SET token = excluded.token, pid = excluded.pid, host = excluded.host, since = excluded.since, heartbeat_at = excluded.heartbeat_at, label = excluded.label',
      ).run(stream, 'elsewhere-token', 4242, 'elsewhere', beat.toISOString(), beat.toISOString(), 'cron');
      db.close();
      return;
    }
    const file = path.join(target.slice('jsonl:'.length), '_ashpipe_locks', `${stream}.lock`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const record = {
      token: 'elsewhere-token',
      pid: 4242,
      host: 'elsewhere',
      since: beat.toISOString(),
      label: 'cron',
    };
    fs.writeFileSync(file, JSON.stringify(record));
    fs.utimesSync(file, beat, beat);
  }

  for (const k of [sqlite, jsonl]) {
    if (!k) continue;
    it(`${k.kind}: a holder on another host keeps its lock while its heartbeat is fresh, and loses it when stale`, async () => {
      const target = await k.target();
      const sink = await opened(target, open);
      plantRecord(target, 'candidates', 5_000);
      const fresh = await sink.lock('candidates');
      expect(fresh).toMatchObject({
        acquired: false,
        holder: { pid: 4242, host: 'elsewhere', label: 'cron' },
      });
      plantRecord(target, 'candidates', LOCK_STALE_MS + 60_000);
      const lock = lockOf(await sink.lock('candidates'));
      await lock.release();
    });

    it(`${k.kind}: a holder whose lock was taken over notices at its next heartbeat`, async () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      const target = await k.target();
      const sink = await opened(target, open);
      const lock = lockOf(await sink.lock('jobs'));
      // Another run judged this holder dead (say, its host clock jumped) and took the lock.
      plantRecord(target, 'jobs', 0);
      lock.assertHeld();
      await vi.advanceTimersByTimeAsync(10_000);
      expect(() => lock.assertHeld()).toThrow(/lost the lock of jobs: it was taken over/);
      // Releasing a lost lock leaves the new holder's record alone.
      await lock.release();
      expect(await sink.lock('jobs')).toMatchObject({ acquired: false, holder: { host: 'elsewhere' } });
    });
  }
});

describe.skipIf(postgres?.skip ?? true)('PostgreSQL advisory locks', () => {
  const open: Sink[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });
  afterAll(async () => {
    await postgres?.cleanup();
  });

  it('are lost, and say so, when the connection holding them is terminated', async () => {
    if (!postgres) return;
    const target = await postgres.target();
    const schema = new URL(target).searchParams.get('schema') ?? '';
    const sink = await opened(target, open);
    const lock = lockOf(await sink.lock('candidates'));
    const admin = new pg.Client({ connectionString: process.env.ASHPIPE_TEST_POSTGRES_URL });
    await admin.connect();
    try {
      const { rows } = await admin.query(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE $1`,
        [`%"${schema}"."_ashpipe_locks"%`],
      );
      expect(rows.length).toBe(1);
    } finally {
      await admin.end();
    }
    await vi.waitFor(() => expect(() => lock.assertHeld()).toThrow(/lost the lock of candidates/), {
      timeout: 5_000,
    });
    // The session is gone, so is its lock: another run takes it at once, and this sink can lock again.
    const other = await opened(target, open);
    const taken = lockOf(await other.lock('candidates'));
    expect((await sink.lock('candidates')).acquired).toBe(false);
    await taken.release();
    lockOf(await sink.lock('candidates'));
  });

  it('are per schema: the same stream in two schemas has two writers', async () => {
    if (!postgres) return;
    const a = await opened(await postgres.target(), open);
    const b = await opened(await postgres.target(), open);
    lockOf(await a.lock('candidates'));
    lockOf(await b.lock('candidates'));
  });
});
