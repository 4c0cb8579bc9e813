/**
 * `--on-delete purge`: a `candidateDelete` webhook, the deleted side of a `candidateMerge` and a candidate
 * gone from a complete full pass are erased as `ashpipe erase` erases them; an anonymisation seen in
 * Ashby's data rewrites the older copies. After each, a byte scan of every file of the target (SQLite
 * file and WAL, a pg_dump, the JSONL directory and its inbox) and of the run's logs finds none of the
 * person's name, email or phone, and other people's rows are as they were.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AshbyClient } from '../../src/ashby/client.js';
import { candidatePurger } from '../../src/privacy/index.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openSink } from '../../src/sinks/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { type SyncRunOptions, syncToTarget } from '../../src/sync/index.js';
import { Logger } from '../../src/util/logger.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { inboxFor, receiveDelivery, WebhookApplier } from '../../src/webhooks/index.js';
import { assertBuilt } from '../support/built-cli.js';
import { DIALECTS, makeTarget, type TestTarget, withSink } from '../sync/helpers.js';
import {
  type Canary,
  canary,
  foundIn,
  plantCanary,
  type Rec,
  snapshot,
  targetBytes,
  theirRows,
} from './helpers.js';

const EVERY_STREAM = selectStreams({ streams: ['all'] });
const CHILD = path.join(import.meta.dirname, 'purge-child.mjs');
const fast = { limit: 6, backoffBaseMs: 5, backoffLimitMs: 20, jitter: false };

/** The reasons of the target's erasure records, read from the table (file) itself. */
async function erasureReasons(t: TestTarget): Promise<string[]> {
  if (t.dialect === 'jsonl') {
    const file = path.join(t.target.slice('jsonl:'.length), '_ashpipe_erasures.jsonl');
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => String((JSON.parse(l) as Rec).reason));
  }
  if (t.dialect === 'sqlite') {
    const db = openSqlite(t.target.slice('sqlite:'.length));
    try {
      return (db.prepare('SELECT reason FROM _ashpipe_erasures').all() as Array<{ reason: string }>).map(
        (r) => r.reason,
      );
    } finally {
      db.close();
    }
  }
  return withPg(t, async (c, schema) =>
    (await c.query(`SELECT reason FROM "${schema}"._ashpipe_erasures`)).rows.map(
      (r: { reason: string }) => r.reason,
    ),
  );
}

async function withPg<T>(t: TestTarget, fn: (c: pg.Client, schema: string) => Promise<T>): Promise<T> {
  const url = new URL(t.target);
  const schema = url.searchParams.get('schema') ?? 'public';
  url.search = '';
  const c = new pg.Client({ connectionString: url.toString() });
  await c.connect();
  try {
    return await fn(c, schema);
  } finally {
    await c.end();
  }
}

/** The raw records of each table, as sorted JSON texts. */
function raws(tables: Map<string, Rec[]>, leaveOut: Set<Rec> = new Set()): Map<string, string[]> {
  return new Map(
    [...tables].map(([table, rows]) => [
      table,
      rows
        .filter((r) => !leaveOut.has(r))
        .map((r) => String(r._ashpipe_raw))
        .sort(),
    ]),
  );
}

describe.each(DIALECTS)('--on-delete purge in %s', (dialect) => {
  let sandbox: Sandbox;
  let t: TestTarget;
  const tag = randomBytes(5).toString('hex');
  const logs: string[] = [];
  const logger = new Logger({ level: 'debug', sink: (line) => logs.push(line) });
  const people: Record<'deleted' | 'merged' | 'gone' | 'anonymised', Canary> = {
    deleted: canary(tag, 'Deleted'),
    merged: canary(tag, 'Merged'),
    gone: canary(tag, 'Gone'),
    anonymised: canary(tag, 'Anonymised'),
  };
  const planted = new Map<string, { candidateId: string; apps: Set<string>; record: Rec }>();
  let survivorId: string;

  const sync = (extra: Partial<SyncRunOptions> = {}) =>
    syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams: EVERY_STREAM,
      retry: fast,
      onDelete: 'purge',
      logger,
      // History mode on the SQL targets: every version of the people's rows in `<stream>_history` too.
      ...(dialect === 'jsonl' ? {} : { history: ['candidates', 'applications'] }),
      ...extra,
    });

  /** Stores a webhook event as the receiver does and applies it with the purge on. */
  const deliver = async (action: string, data: Rec) => {
    const inbox = inboxFor(t.target);
    await inbox.open();
    const sink = openSink(t.target);
    await sink.open();
    try {
      const body = JSON.stringify({ webhookActionId: `${action}-${tag}`, action, data });
      const answer = await receiveDelivery(
        { raw: Buffer.from(body), contentType: 'application/json', signature: undefined },
        { inbox, secret: undefined, logger },
      );
      expect(answer.status).toBe(200);
      const applier = new WebhookApplier({
        inbox,
        sink,
        client: new AshbyClient({ apiKey: 'sandbox-full', baseUrl: sandbox.url, retry: fast }),
        purge: candidatePurger(t.target, { logger }),
        logger,
      });
      await applier.drain();
    } finally {
      await inbox.close();
      await sink.close();
    }
  };

  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 40, seed: 5 });
    const indexes = { deleted: 4, merged: 8, gone: 6, anonymised: 10 } as const;
    for (const [k, person] of Object.entries(people) as Array<[keyof typeof people, Canary]>) {
      const p = plantCanary(sandbox, indexes[k], person);
      const record = (sandbox.records('candidate.list') as Rec[]).find((c) => c.id === p.candidateId) as Rec;
      planted.set(k, { ...p, record });
    }
    survivorId = String(sandbox.world.at('candidate', 12)?.id);
    t = await makeTarget(dialect);
    const summary = await sync();
    expect(summary.exitCode).toBe(0);
    expect(summary.purged).toEqual({ candidates: 0, applications: 0, anonymised: 0 });
    for (const person of Object.values(people)) expect(foundIn(targetBytes(t), person)).toHaveLength(3);
  }, 180_000);
  afterAll(async () => {
    await sandbox?.close();
    await t?.cleanup();
  });

  it('a candidateDelete webhook erases the candidate; every other row stays as it was', async () => {
    const { candidateId, apps, record } = planted.get('deleted') as {
      candidateId: string;
      apps: Set<string>;
      record: Rec;
    };
    const before = await snapshot(t.target);
    const theirs = theirRows(before, candidateId, apps);
    expect(theirs.size).toBeGreaterThan(1 + apps.size);
    sandbox.mutate.deleteCandidate(candidateId);
    await deliver('candidateDelete', { candidate: record });
    const after = await snapshot(t.target);
    for (const [table, rows] of before)
      expect(after.get(table) ?? [], table).toEqual(rows.filter((row) => !theirs.has(row)));
    expect(foundIn(targetBytes(t), people.deleted)).toEqual([]);
    expect(foundIn(Buffer.from(logs.join('\n')), people.deleted)).toEqual([]);
    expect(await erasureReasons(t)).toEqual(['deleted in Ashby']);
  }, 120_000);

  it("a candidateMerge's deleted side is erased, the surviving candidate stays", async () => {
    const { candidateId, record } = planted.get('merged') as { candidateId: string; record: Rec };
    const survivor = (sandbox.records('candidate.list') as Rec[]).find((c) => c.id === survivorId) as Rec;
    sandbox.world.delete(candidateId, survivorId);
    await deliver('candidateMerge', { deletedCandidate: record, mergedCandidate: survivor });
    expect(foundIn(targetBytes(t), people.merged)).toEqual([]);
    expect(foundIn(Buffer.from(logs.join('\n')), people.merged)).toEqual([]);
    const ids = await withSink(t.target, async (sink) =>
      (await sink.readRows('candidates')).map((r) => (JSON.parse(String(r._ashpipe_raw)) as Rec).id),
    );
    expect(ids).toContain(survivorId);
    expect(ids).not.toContain(candidateId);
    expect(await erasureReasons(t)).toEqual(['deleted in Ashby', 'merged']);
  }, 120_000);

  it('a candidate gone from a complete full pass is erased after the run; other rows are as they were', async () => {
    const { candidateId, apps } = planted.get('gone') as { candidateId: string; apps: Set<string> };
    const before = await snapshot(t.target);
    const theirs = theirRows(before, candidateId, apps);
    sandbox.mutate.deleteCandidate(candidateId);
    const summary = await sync({ fullRefresh: true });
    expect(summary.exitCode).toBe(0);
    expect(summary.purged).toMatchObject({ candidates: 1, applications: apps.size });
    const after = await snapshot(t.target);
    expect(theirRows(after, candidateId, apps).size).toBe(0);
    // Every other row read before is still there with the same record (the pass re-reads them all).
    const kept = raws(before, theirs);
    const now = raws(after);
    for (const [table, list] of kept) {
      const present = new Set(now.get(table) ?? []);
      expect(
        list.filter((raw) => !present.has(raw)),
        table,
      ).toEqual([]);
    }
    expect(foundIn(targetBytes(t), people.gone)).toEqual([]);
    expect(foundIn(Buffer.from(logs.join('\n')), people.gone)).toEqual([]);
    expect(await erasureReasons(t)).toEqual(['deleted in Ashby', 'merged', 'gone from full pass']);
  }, 180_000);

  it('an anonymisation seen in Ashby rewrites the older copies (JSONL lines, history versions)', async () => {
    const { candidateId } = planted.get('anonymised') as { candidateId: string };
    sandbox.mutate.updateCandidate(candidateId, {
      name: 'Anonymized Candidate',
      primaryEmailAddress: null,
      emailAddresses: [],
      primaryPhoneNumber: null,
      phoneNumbers: [],
      socialLinks: [],
    });
    const summary = await sync({ fullRefresh: true });
    expect(summary.exitCode).toBe(0);
    expect(summary.purged?.anonymised).toBe(1);
    expect(foundIn(targetBytes(t), people.anonymised)).toEqual([]);
    if (dialect !== 'jsonl') {
      // History mode kept the version from before the anonymisation: rewritten, not removed.
      const sql = 'SELECT count(*) AS n FROM candidates_history WHERE _ashpipe_record_id = ';
      const versions =
        dialect === 'sqlite'
          ? (() => {
              const db = openSqlite(t.target.slice('sqlite:'.length));
              try {
                return Number((db.prepare(`${sql}?`).get(candidateId) as { n: number }).n);
              } finally {
                db.close();
              }
            })()
          : await withPg(t, async (c, schema) => {
              const r = await c.query(
                `SELECT count(*)::int AS n FROM "${schema}".candidates_history WHERE _ashpipe_record_id = $1`,
                [candidateId],
              );
              return Number(r.rows[0]?.n);
            });
      expect(versions).toBeGreaterThanOrEqual(2);
    }
    // The candidate is still there, anonymised; the other canaries' erasure records are all there are.
    const row = await withSink(t.target, async (sink) =>
      (await sink.readRows('candidates')).find(
        (r) => (JSON.parse(String(r._ashpipe_raw)) as Rec).id === candidateId,
      ),
    );
    expect(JSON.parse(String(row?._ashpipe_raw))).toMatchObject({ name: 'Anonymized Candidate' });
    // A second run finds nothing left to rewrite.
    const again = await sync();
    expect(again.purged?.anonymised).toBe(0);
    expect((await erasureReasons(t)).at(-1)).toBe('anonymised in Ashby');
  }, 180_000);
});

describe('purge edge cases', () => {
  let sandbox: Sandbox;
  let t: TestTarget;
  const tag = randomBytes(5).toString('hex');
  const person = canary(tag, 'Locked');
  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 20, seed: 6 });
    t = await makeTarget('sqlite');
  });
  afterAll(async () => {
    await sandbox?.close();
    await t?.cleanup();
  });

  it('a purge that cannot run while another run holds a stream: the rows stay soft-deleted, the webhook is retried, the sync exits 3; later both purge', async () => {
    const { candidateId } = plantCanary(sandbox, 2, person);
    const record = (sandbox.records('candidate.list') as Rec[]).find((c) => c.id === candidateId) as Rec;
    const sync = () =>
      syncToTarget({
        apiKey: 'sandbox-full',
        baseUrl: sandbox.url,
        target: t.target,
        streams: selectStreams({ streams: ['candidates', 'applications', 'jobs'] }),
        retry: fast,
        onDelete: 'purge',
      });
    expect((await sync()).exitCode).toBe(0);
    // Another run (another connection) holds the jobs stream.
    const other = openSink(t.target);
    await other.open();
    const held = await other.lock('jobs', 'another run');
    expect(held.acquired).toBe(true);
    sandbox.mutate.deleteCandidate(candidateId);
    const inbox = inboxFor(t.target);
    await inbox.open();
    const sink = openSink(t.target);
    await sink.open();
    let later = 0;
    const applier = new WebhookApplier({
      inbox,
      sink,
      client: new AshbyClient({ apiKey: 'sandbox-full', baseUrl: sandbox.url, retry: fast }),
      purge: candidatePurger(t.target),
      now: () => new Date(Date.now() + later),
    });
    const body = JSON.stringify({
      webhookActionId: `del-${tag}`,
      action: 'candidateDelete',
      data: { candidate: record },
    });
    await receiveDelivery(
      { raw: Buffer.from(body), contentType: 'application/json', signature: undefined },
      { inbox, secret: undefined },
    );
    await applier.drain();
    const [event] = await inbox.list('pending');
    expect(event?.lastError).toMatch(/^purge failed: .*jobs is being written by another run/);
    expect(foundIn(targetBytes(t), person)).toHaveLength(3);
    const blocked = await sync();
    expect(blocked.exitCode).toBe(3);
    expect(blocked.purged?.error).toMatch(/jobs is being written by another run/);
    expect(await withSink(t.target, (s) => s.countRows('candidates'))).toMatchObject({ deleted: 1 });
    // The other run ends: the retried event purges, and so would the next sync.
    if (held.acquired) await held.lock.release();
    await other.close();
    later = 3_600_000;
    await applier.drain();
    expect(await inbox.list('pending')).toEqual([]);
    await inbox.close();
    await sink.close();
    expect(foundIn(targetBytes(t), person)).toEqual([]);
    expect(await erasureReasons(t)).toEqual(['deleted in Ashby']);
    const after = await sync();
    expect(after.exitCode).toBe(0);
    expect(after.purged).toMatchObject({ candidates: 0 });
  }, 120_000);

  it('SQLite without history tables: the rows replaced in place (candidate, application summaries) leave no old bytes', async () => {
    const target = await makeTarget('sqlite');
    try {
      const person = canary(tag, 'InPlace');
      const { candidateId } = plantCanary(sandbox, 7, person);
      const sync = () =>
        syncToTarget({
          apiKey: 'sandbox-full',
          baseUrl: sandbox.url,
          target: target.target,
          streams: selectStreams({ streams: ['candidates', 'applications'] }),
          retry: fast,
          onDelete: 'purge',
        });
      expect((await sync()).exitCode).toBe(0);
      expect(foundIn(targetBytes(target), person)).toHaveLength(3);
      sandbox.mutate.updateCandidate(candidateId, {
        name: 'Anonymized Candidate',
        primaryEmailAddress: null,
        emailAddresses: [],
        primaryPhoneNumber: null,
        phoneNumbers: [],
      });
      // Incremental: the applications are not read again, their candidate summary is rewritten in place.
      const summary = await sync();
      expect(summary.purged?.anonymised).toBe(1);
      expect(foundIn(targetBytes(target), person)).toEqual([]);
      expect(await erasureReasons(target)).toEqual(['anonymised in Ashby']);
    } finally {
      await target.cleanup();
    }
  }, 120_000);

  it('a candidate who never had contact details keeps the history of their name (JSONL)', async () => {
    const target = await makeTarget('jsonl');
    try {
      const candidate = sandbox.world.at('candidate', 9);
      const candidateId = String(candidate?.id);
      const oldName = `Never Contacted ${tag}`;
      sandbox.mutate.updateCandidate(candidateId, {
        name: oldName,
        primaryEmailAddress: null,
        emailAddresses: [],
        primaryPhoneNumber: null,
        phoneNumbers: [],
      });
      const sync = () =>
        syncToTarget({
          apiKey: 'sandbox-full',
          baseUrl: sandbox.url,
          target: target.target,
          streams: selectStreams({ streams: ['candidates'] }),
          retry: fast,
          onDelete: 'purge',
        });
      expect((await sync()).exitCode).toBe(0);
      sandbox.mutate.updateCandidate(candidateId, { name: `Renamed ${tag}` });
      const summary = await sync();
      expect(summary.purged?.anonymised).toBe(0);
      const lines = fs
        .readFileSync(path.join(target.target.slice('jsonl:'.length), 'candidates.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.includes(candidateId) && l.includes('"record"'));
      expect(lines.map((l) => (JSON.parse(l) as { record: Rec }).record.name)).toEqual([
        oldName,
        `Renamed ${tag}`,
      ]);
    } finally {
      await target.cleanup();
    }
  }, 120_000);
});

describe.each(DIALECTS)('a purge killed with SIGKILL in %s', (dialect) => {
  let sandbox: Sandbox;
  // The purge runs in a child on the built code.
  beforeAll(assertBuilt);
  afterAll(async () => {
    await sandbox?.close();
  });

  it('leaves what the next purge run finishes: whenever it dies, the person is gone after the rerun', async () => {
    sandbox = await startSandbox({ scale: 20, seed: 8 });
    const tag = randomBytes(5).toString('hex');
    // Killed at once, a little later, later still: before, during or after the removal.
    for (const [i, delayMs] of [0, 40, 150].entries()) {
      const t = await makeTarget(dialect);
      try {
        const person = canary(tag, `Killed${i}`);
        const { candidateId } = plantCanary(sandbox, 3 + i, person);
        const sync = (onDelete: 'soft' | 'purge') =>
          syncToTarget({
            apiKey: 'sandbox-full',
            baseUrl: sandbox.url,
            target: t.target,
            streams: selectStreams({ streams: ['candidates', 'applications', 'candidate_notes'] }),
            retry: fast,
            onDelete,
            fullRefresh: true,
          });
        expect((await sync('soft')).exitCode).toBe(0);
        sandbox.mutate.deleteCandidate(candidateId);
        expect((await sync('soft')).exitCode).toBe(0);
        expect(foundIn(targetBytes(t), person)).toHaveLength(3);
        const child = spawn(process.execPath, [CHILD, t.target, candidateId], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const ended = new Promise<void>((resolve) => child.on('exit', () => resolve()));
        await new Promise<void>((resolve) => child.stdout.on('data', () => resolve()));
        await new Promise((r) => setTimeout(r, delayMs));
        child.kill('SIGKILL');
        await ended;
        const again = await sync('purge');
        expect(again.exitCode, `killed after ${delayMs} ms`).toBe(0);
        expect(foundIn(targetBytes(t), person), `killed after ${delayMs} ms`).toEqual([]);
        expect(await withSink(t.target, (s) => s.countRows('candidates'))).toMatchObject({ deleted: 0 });
      } finally {
        await t.cleanup();
      }
    }
  }, 180_000);
  it.runIf(dialect === 'jsonl')(
    "killed between a stream file's rename and its state: the target opens, and the rerun finishes",
    async () => {
      sandbox ??= await startSandbox({ scale: 20, seed: 8 });
      const t = await makeTarget('jsonl');
      try {
        const person = canary(randomBytes(5).toString('hex'), 'Renamed');
        const { candidateId } = plantCanary(sandbox, 9, person);
        const sync = (onDelete: 'soft' | 'purge') =>
          syncToTarget({
            apiKey: 'sandbox-full',
            baseUrl: sandbox.url,
            target: t.target,
            streams: selectStreams({ streams: ['candidates', 'applications', 'candidate_notes'] }),
            retry: fast,
            onDelete,
            fullRefresh: true,
          });
        expect((await sync('soft')).exitCode).toBe(0);
        sandbox.mutate.deleteCandidate(candidateId);
        expect((await sync('soft')).exitCode).toBe(0);
        const others = (rows: Rec[]) => rows.filter((r) => r.id !== candidateId).map((r) => r._ashpipe_raw);
        const before = others(
          await withSink(t.target, (s) => s.readRows('candidates', { includeDeleted: true })),
        );
        const child = spawn(process.execPath, [CHILD, t.target, candidateId, 'kill-after-jsonl-rename'], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
          child.on('exit', (_c, s) => resolve(s)),
        );
        expect(signal).toBe('SIGKILL');
        // The file was replaced, its state not yet moved: the target still opens and reads whole.
        const after = others(
          await withSink(t.target, (s) => s.readRows('candidates', { includeDeleted: true })),
        );
        expect(after).toEqual(before);
        const again = await sync('purge');
        expect(again.exitCode).toBe(0);
        expect(foundIn(targetBytes(t), person)).toEqual([]);
        expect(await withSink(t.target, (s) => s.countRows('candidates'))).toMatchObject({ deleted: 0 });
      } finally {
        await t.cleanup();
      }
    },
    120_000,
  );
});
