import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AshbyClient } from '../../src/ashby/index.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openSink } from '../../src/sinks/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { readState, runSync, type SyncSummary, syncToTarget } from '../../src/sync/index.js';
import { runCli } from '../support/cli.js';
import { liveRecords, makeTarget, POSTGRES_URL, type TestTarget, withSink } from './helpers.js';

const streams = selectStreams({ streams: ['candidates'] });
const PAGE_SIZE = 10;

/** A TCP proxy in front of the test's PostgreSQL server that the test can take down and bring back. */
class PgProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly upstream: { host: string; port: number }) {}

  async up(): Promise<void> {
    this.server = net.createServer((client) => {
      const server = net.connect(this.upstream.port, this.upstream.host);
      for (const s of [client, server]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(server).pipe(client);
    });
    await new Promise<void>((resolve) => this.server?.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }
}

describe.skipIf(!POSTGRES_URL)('PostgreSQL faults', () => {
  let sandbox: Sandbox;
  let admin: pg.Client;
  const targets: TestTarget[] = [];

  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 120, seed: 31 });
    admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await sandbox?.close();
    for (const t of targets) await t.cleanup();
  });

  const target = async () => {
    const t = await makeTarget('postgres');
    targets.push(t);
    return t;
  };
  const schemaOf = (t: string) => new URL(t).searchParams.get('schema') ?? 'public';

  /** A clean full sync of the sandbox into a fresh schema: what every run must end with. */
  async function reference(): Promise<unknown[]> {
    const clean = await target();
    expect(
      (await syncToTarget({ apiKey: 'sandbox-full', baseUrl: sandbox.url, target: clean.target, streams }))
        .exitCode,
    ).toBe(0);
    return withSink(clean.target, (sink) => liveRecords(sink, 'candidates'));
  }

  /**
   * Runs a full refresh into `targetUrl` and, once `afterPages` pages are committed, blocks the next page's
   * INSERT behind a table lock held by the test; `whileBlocked` gets the blocked backend's pid.
   */
  async function runBlocked(
    targetUrl: string,
    schema: string,
    afterPages: number,
    whileBlocked: (pid: number) => Promise<void>,
  ): Promise<SyncSummary> {
    const sink = openSink(targetUrl);
    await sink.open();
    let blocking: Promise<void> | undefined;
    const lock = new pg.Client({ connectionString: POSTGRES_URL });
    await lock.connect();
    try {
      const run = runSync({
        client: new AshbyClient({ apiKey: 'sandbox-full', baseUrl: sandbox.url }),
        sink,
        streams,
        pageSize: PAGE_SIZE,
        fullRefresh: true,
        onEvent: (e) => {
          if (e.type !== 'page' || e.pages !== afterPages || blocking) return;
          blocking = (async () => {
            const own = (await lock.query('SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number;
            await lock.query('BEGIN');
            await lock.query(`LOCK TABLE "${schema}".candidates IN SHARE MODE`);
            let pid: number | undefined;
            for (let i = 0; i < 500 && pid === undefined; i++) {
              const { rows } = await admin.query(
                `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> $2 AND query LIKE $1`,
                // The page's statement, not the test's own LOCK (the upsert is a sub-statement of the page's
                // one statement, maybe past the text pg_stat_activity keeps).
                [`%"${schema}".%`, own],
              );
              pid = rows[0]?.pid as number | undefined;
              if (pid === undefined) await new Promise((r) => setTimeout(r, 10));
            }
            if (pid === undefined) throw new Error('the next page never blocked');
            await whileBlocked(pid);
            await lock.query('COMMIT');
          })();
        },
      });
      const summary = await run;
      await blocking;
      return summary;
    } finally {
      await lock.end();
      await sink.close();
    }
  }

  /** The stored state, and the rows of the pass in progress. */
  async function stored(targetUrl: string) {
    return withSink(targetUrl, async (sink) => {
      const state = readState(await sink.getState('candidates'));
      const rows = await sink.readRows('candidates');
      return { state, seenByPass: rows.filter((r) => r._ashpipe_pass_id === state?.passId).length };
    });
  }

  it('a backend terminated mid-page fails the stream clearly, keeps the state of the last page, and the next run resumes there', async () => {
    const t = await target();
    expect(
      (await syncToTarget({ apiKey: 'sandbox-full', baseUrl: sandbox.url, target: t.target, streams }))
        .exitCode,
    ).toBe(0);
    const failed = await runBlocked(t.target, schemaOf(t.target), 3, async (pid) => {
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    });
    const result = failed.streams[0];
    expect(failed.exitCode).toBe(3);
    // The lock is taken after page 3's event while the run reads ahead, so it may stop a page later.
    const committed = result?.pages ?? -1;
    expect(committed).toBeGreaterThanOrEqual(3);
    expect(result?.status).toBe('failed');
    expect(result?.error?.message).toMatch(/terminating connection due to administrator command/);
    // The page being written is not there: the state and rows are those of the pages before it.
    const after = await stored(t.target);
    expect(after.state).toMatchObject({ passKind: 'full', pagesCommitted: committed });
    expect(after.state?.cursor).toBeDefined();
    expect(after.seenByPass).toBe(committed * PAGE_SIZE);

    const resumed = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams,
      pageSize: PAGE_SIZE,
    });
    expect(resumed.exitCode).toBe(0);
    expect(resumed.streams[0]?.reason).toContain(`resumed the interrupted full pass after page ${committed}`);
    expect(resumed.streams[0]?.pages).toBe(120 / PAGE_SIZE - committed);
    expect(resumed.streams[0]?.deleted).toBe(0);
    await withSink(t.target, async (sink) =>
      expect(await liveRecords(sink, 'candidates')).toEqual(await reference()),
    );
  });

  it('a statement timeout fails the stream clearly, keeps the state, and the next run resumes', async () => {
    const t = await target();
    const timed = `${t.target}&options=${encodeURIComponent('-c statement_timeout=500')}`;
    const failed = await runBlocked(timed, schemaOf(t.target), 2, async () => {
      await new Promise((r) => setTimeout(r, 1_500));
    });
    // The lock is taken after page 2's event while the run reads ahead, so the page it stops may be 3 or 4:
    // whichever it is, the state and the rows are exactly those of the pages before it.
    const committed = failed.streams[0]?.pages ?? -1;
    expect(committed).toBeGreaterThanOrEqual(2);
    expect(failed.streams[0]?.status).toBe('failed');
    expect(failed.streams[0]?.error?.message).toMatch(/canceling statement due to statement timeout/);
    const after = await stored(t.target);
    expect(after.state).toMatchObject({ pagesCommitted: committed });
    expect(after.seenByPass).toBe(committed * PAGE_SIZE);
    const resumed = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: timed,
      streams,
      pageSize: PAGE_SIZE,
    });
    expect(resumed.streams[0]?.reason).toContain(`resumed the interrupted full pass after page ${committed}`);
    await withSink(t.target, async (sink) =>
      expect(await liveRecords(sink, 'candidates')).toEqual(await reference()),
    );
  });

  it('a server unreachable at start fails the run with a clear message and no password, and changes nothing', async () => {
    const t = await target();
    const upstream = new URL(POSTGRES_URL ?? '');
    const proxy = new PgProxy({ host: upstream.hostname, port: Number(upstream.port || 5432) });
    await proxy.up();
    const through = new URL(t.target);
    through.host = `127.0.0.1:${proxy.port}`;
    through.password = 'hunter2-secret';
    // The test server trusts local connections, so the password is only there to be kept out of sight.
    const url = through.toString();
    const failed = await runBlocked(url, schemaOf(t.target), 2, async () => {
      await proxy.down();
    });
    // As above: the lock is taken after page 2's event while the run reads ahead, so it may stop a page later.
    const committed = failed.streams[0]?.pages ?? -1;
    expect(committed).toBeGreaterThanOrEqual(2);
    expect(failed.streams[0]?.status).toBe('failed');
    const before = await stored(t.target);
    expect(before.state).toMatchObject({ pagesCommitted: committed });

    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
    const cli = await runCli(['sync', '--base-url', sandbox.url, '--to', url, '--streams', 'candidates'], {
      ASHBY_API_KEY: 'sandbox-full',
      ASHPIPE_HOME: home,
    }).finally(() => fs.rmSync(home, { recursive: true, force: true }));
    expect(cli.code).toBe(1);
    expect(cli.err).toMatch(/cannot open PostgreSQL sink postgres:\/\/.*127\.0\.0\.1:\d+.*ECONNREFUSED/);
    expect(cli.err + cli.out).not.toContain('hunter2-secret');
    expect(await stored(t.target)).toEqual(before);

    await proxy.up();
    const resumed = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: url,
      streams,
      pageSize: PAGE_SIZE,
    });
    expect(resumed.streams[0]?.reason).toContain(`resumed the interrupted full pass after page ${committed}`);
    await proxy.down();
    await withSink(t.target, async (sink) =>
      expect(await liveRecords(sink, 'candidates')).toEqual(await reference()),
    );
  });
});
