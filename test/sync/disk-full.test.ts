import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AshbyClient } from '../../src/ashby/index.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { JsonlSink, type Sink, SqliteSink } from '../../src/sinks/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { readState, runSync, type SyncSummary } from '../../src/sync/index.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { liveRecords } from './helpers.js';

const streams = selectStreams({ streams: ['candidates'] });
const PAGE_SIZE = 10;
const SCALE = 200;

let sandbox: Sandbox;
let root: string;
beforeAll(async () => {
  sandbox = await startSandbox({ scale: SCALE, seed: 41 });
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-full-'));
});
afterAll(async () => {
  await sandbox?.close();
  fs.rmSync(root, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function syncInto(sink: Sink, fullRefresh = false): Promise<SyncSummary> {
  await sink.open();
  try {
    return await runSync({
      client: new AshbyClient({ apiKey: 'sandbox-full', baseUrl: sandbox.url }),
      sink,
      streams,
      pageSize: PAGE_SIZE,
      fullRefresh,
    });
  } finally {
    await sink.close();
  }
}

async function rowsOf(sink: Sink) {
  await sink.open();
  try {
    const state = readState(await sink.getState('candidates'));
    const rows = await sink.readRows('candidates');
    return { state, rows, live: await liveRecords(sink, 'candidates') };
  } finally {
    await sink.close();
  }
}

describe('a full disk', () => {
  it('SQLite (max_page_count): the stream fails cleanly, nothing half-written shows, the next run resumes', async () => {
    const cleanFile = path.join(root, 'clean.db');
    expect((await syncInto(new SqliteSink(cleanFile))).exitCode).toBe(0);
    const expected = (await rowsOf(new SqliteSink(cleanFile))).live;
    expect(expected).toHaveLength(SCALE);
    const db = openSqlite(cleanFile, { readonly: true });
    const fullSize = Number(db.pragma('page_count', { simple: true }));
    db.close();

    const file = path.join(root, 'full.db');
    // Room for about half of the data.
    const failed = await syncInto(new SqliteSink(file, undefined, { maxPageCount: Math.ceil(fullSize / 2) }));
    const result = failed.streams[0];
    expect(failed.exitCode).toBe(3);
    expect(result?.status).toBe('failed');
    expect(result?.error?.message).toMatch(/database or disk is full/);
    const pages = result?.pages ?? 0;
    expect(pages).toBeGreaterThan(0);
    expect(pages).toBeLessThan(SCALE / PAGE_SIZE);

    const after = await rowsOf(new SqliteSink(file));
    // Exactly the committed pages: the page that hit the limit left no row behind.
    expect(after.state).toMatchObject({ passKind: 'full', pagesCommitted: pages });
    expect(after.rows).toHaveLength(pages * PAGE_SIZE);
    expect(after.live).toEqual(expected.filter((r) => after.rows.some((row) => row.id === r.id)));

    const resumed = await syncInto(new SqliteSink(file));
    expect(resumed.exitCode).toBe(0);
    expect(resumed.streams[0]?.reason).toContain(`resumed the interrupted full pass after page ${pages}`);
    expect(resumed.streams[0]?.pages).toBe(SCALE / PAGE_SIZE - pages);
    expect((await rowsOf(new SqliteSink(file))).live).toEqual(expected);
  });

  // ENOSPC where it hurts most: in the middle of a page's lines (a short write, then the error), and while
  // the state file that commits them is written.
  const where: Array<[string, (text: string) => boolean]> = [
    ['in the change log', (text) => text.startsWith('{"op":')],
    ['in the state file', (text) => text.startsWith('{\n  "state"')],
  ];
  it.each(where)(
    'JSONL (ENOSPC %s): the stream fails cleanly, nothing half-written shows, the next run resumes',
    async (_where, target) => {
      const cleanDir = path.join(root, `clean-${_where.replace(/\W/g, '')}`);
      expect((await syncInto(new JsonlSink(cleanDir))).exitCode).toBe(0);
      const expected = (await rowsOf(new JsonlSink(cleanDir))).live;

      const dir = path.join(root, `full-${_where.replace(/\W/g, '')}`);
      const writeSync = fs.writeSync.bind(fs) as (
        fd: number,
        buffer: Buffer,
        offset: number,
        length: number,
      ) => number;
      let matching = 0;
      let full = false;
      let shortWrite = false;
      const fake = (fd: number, buffer: Buffer, offset = 0, length?: number): number => {
        const len = length ?? buffer.length - offset;
        const text = buffer.subarray(offset, offset + Math.min(len, 16)).toString();
        if (!full && target(text) && ++matching === 6) full = true;
        if (!full) return writeSync(fd, buffer, offset, len);
        if (!shortWrite && len > 1) {
          // The disk takes half, then nothing more.
          shortWrite = true;
          return writeSync(fd, buffer, offset, Math.floor(len / 2));
        }
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
          code: 'ENOSPC',
          errno: -28,
        });
      };
      vi.spyOn(fs, 'writeSync').mockImplementation(fake as unknown as typeof fs.writeSync);
      const failed = await syncInto(new JsonlSink(dir));
      vi.restoreAllMocks();
      const result = failed.streams[0];
      expect(result?.status).toBe('failed');
      expect(result?.error?.message).toMatch(/ENOSPC: no space left on device/);
      const pages = result?.pages ?? 0;
      expect(pages).toBeGreaterThan(0);

      // The log ends exactly where its state says; no torn line, no stray temporary file.
      const meta = JSON.parse(fs.readFileSync(path.join(dir, '_ashpipe_state', 'candidates.json'), 'utf8'));
      expect(fs.statSync(path.join(dir, 'candidates.jsonl')).size).toBe(meta.offset);
      expect(fs.readdirSync(path.join(dir, '_ashpipe_state'))).toEqual(['candidates.json']);
      const after = await rowsOf(new JsonlSink(dir));
      expect(after.state).toMatchObject({ pagesCommitted: pages });
      expect(after.rows).toHaveLength(pages * PAGE_SIZE);

      const resumed = await syncInto(new JsonlSink(dir));
      expect(resumed.exitCode).toBe(0);
      expect(resumed.streams[0]?.reason).toContain(`resumed the interrupted full pass after page ${pages}`);
      expect((await rowsOf(new JsonlSink(dir))).live).toEqual(expected);
    },
  );
});
