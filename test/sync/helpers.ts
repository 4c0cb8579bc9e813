import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Sandbox } from '../../src/sandbox/index.js';
import { openSink, type Sink } from '../../src/sinks/index.js';
import type { ResolvedStream } from '../../src/streams/index.js';
import { expectedStreamRecords } from '../support/world-oracle.js';

export const POSTGRES_URL = process.env.ASHPIPE_TEST_POSTGRES_URL;
if (!POSTGRES_URL) {
  const message = 'ASHPIPE_TEST_POSTGRES_URL is not set: the Postgres sync tests are SKIPPED';
  if (process.env.ASHPIPE_REQUIRE_POSTGRES === '1')
    throw new Error(`${message} but ASHPIPE_REQUIRE_POSTGRES=1`);
  console.warn(message);
}

/** One destination of a test: a target string for the sink, and how to clean it up. */
export interface TestTarget {
  dialect: 'sqlite' | 'postgres' | 'jsonl';
  target: string;
  cleanup(): Promise<void>;
}

/** Dialects to run each storage test on: SQLite always, Postgres when a server is configured. */
export const DIALECTS: Array<'sqlite' | 'postgres' | 'jsonl'> = POSTGRES_URL
  ? ['sqlite', 'postgres', 'jsonl']
  : ['sqlite', 'jsonl'];

export async function makeTarget(dialect: 'sqlite' | 'postgres' | 'jsonl'): Promise<TestTarget> {
  if (dialect === 'jsonl') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
    return {
      dialect,
      target: `jsonl:${path.join(dir, 'out')}`,
      cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
  if (dialect === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
    return {
      dialect,
      target: `sqlite:${path.join(dir, 'sync.db')}`,
      cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
  const url = POSTGRES_URL as string;
  const schema = `ashpipe_t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.end();
  const sep = url.includes('?') ? '&' : '?';
  return {
    dialect,
    target: `${url}${sep}schema=${schema}`,
    cleanup: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}

/** Opens the target's sink, runs `fn`, closes it. */
export async function withSink<T>(target: string, fn: (sink: Sink) => Promise<T>): Promise<T> {
  const sink = openSink(target);
  await sink.open();
  try {
    return await fn(sink);
  } finally {
    await sink.close();
  }
}

type Rec = Record<string, unknown>;

const byKey = (a: Rec, b: Rec) => String(a.id).localeCompare(String(b.id));

/** Live rows of a stream, as the records they were stored from, sorted by id. */
export async function liveRecords(sink: Sink, stream: string): Promise<Rec[]> {
  const rows = await sink.readRows(stream, { includeDeleted: false });
  return rows
    .filter((r) => r._ashpipe_deleted_at == null)
    .map((r) => JSON.parse(String(r._ashpipe_raw)) as Rec)
    .sort(byKey);
}

/**
 * What a full sync of `stream` must store (a key with every scope and confidential access), computed from
 * the sandbox's world directly by the world oracle, never through the sandbox's list handlers.
 */
export function expectedRecords(sandbox: Sandbox, stream: ResolvedStream): Rec[] {
  return expectedStreamRecords(sandbox, stream.name);
}

/**
 * The sink as a run that ignores locks sees it (an older ashpipe, a restored backup, a second server with
 * another version): every lock is granted at once and holds nothing.
 */
export function withoutLocks(sink: Sink): Sink {
  return new Proxy(sink, {
    get(target, property, receiver) {
      if (property === 'lock') {
        return async (stream: string) => ({
          acquired: true as const,
          lock: { stream, assertHeld: () => {}, release: async () => {} },
        });
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Rows of a stream that are soft-deleted, by id. */
export async function deletedIds(sink: Sink, stream: string): Promise<string[]> {
  const rows = await sink.readRows(stream, { includeDeleted: true });
  return rows.filter((r) => r._ashpipe_deleted_at != null).map((r) => String(r.id));
}
