/**
 * Hostile or broken data from Ashby never stops a stream: a record with thousands of top-level fields,
 * NUL bytes in field names, custom field titles and keys, records without a usable key. And what a sync
 * writes on disk is readable by its owner only.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Sink, StreamShape, StreamState } from '../../src/sinks/index.js';
import { openSink } from '../../src/sinks/index.js';
import { MAX_TYPED_COLUMNS } from '../../src/sinks/layout.js';
import { KINDS, opened, raws } from './harness.js';

const candidates: StreamShape = {
  name: 'candidates',
  primaryKey: ['id'],
  customFieldsObjectType: 'Candidate',
};
const state = (passId: string): StreamState => ({ passId, passKind: 'full', pagesCommitted: 1 });

/** A record with `n` top-level fields besides its id. */
function wide(id: string, n: number): Record<string, unknown> {
  const record: Record<string, unknown> = { id };
  for (let i = 0; i < n; i++) record[`field${i}`] = `v${i}`;
  return record;
}

for (const k of KINDS) {
  describe.skipIf(k.skip)(`${k.kind} sink with hostile records`, () => {
    const open: Sink[] = [];
    const sink = async (target?: string): Promise<Sink> => opened(target ?? (await k.target()), open);
    const isSql = k.kind !== 'jsonl';
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });
    afterAll(async () => k.cleanup());

    it('a record with 2,100 top-level fields is stored whole; the table stops at its typed-column cap with a notice', async () => {
      const s = await sink();
      const record = wide('c1', 2100);
      const result = await s.upsertPage(candidates, [record, { id: 'c2', name: 'Ada' }], state('p1'));
      expect(result.inserted).toBe(2);
      const rows = await s.readRows('candidates');
      expect(raws(rows)).toEqual([record, { id: 'c2', name: 'Ada' }]);
      if (isSql) {
        expect(result.notices).toEqual([
          `the table has its ${MAX_TYPED_COLUMNS} typed columns: later fields are kept only in _ashpipe_raw`,
        ]);
        // id plus the first 199 fields, in order of appearance.
        expect(result.newColumns).toHaveLength(MAX_TYPED_COLUMNS);
        expect(rows[0]?.field198).toBe('v198');
        expect(rows[0]).not.toHaveProperty('field199');
        // The next page still goes through; the stream is not stopped by the first.
        const next = await s.upsertPage(candidates, [wide('c3', 2100)], state('p1'));
        expect(next.inserted).toBe(1);
      }
    });

    it('NUL bytes in a top-level key, a custom field title and a record id never fail the page', async () => {
      const target = await k.target();
      const s = await sink(target);
      const records = [
        {
          id: 'c1',
          'bad\u0000key': 'x',
          name: 'Ada',
          customFields: [{ id: 'cf\u00001', title: 'Ti\u0000tle', value: 'v\u0000' }],
        },
        { id: 'c\u00002', name: 'Nul Id' },
        { id: 'c3', name: 'Plain' },
      ];
      const result = await s.upsertPage(candidates, records, state('p1'));
      expect(result.inserted).toBe(3);
      const rows = await s.readRows('candidates');
      expect(rows).toHaveLength(3);
      if (isSql) {
        expect(result.notices).toEqual([
          'fields whose names hold a NUL character or a lone surrogate are kept only in _ashpipe_raw',
        ]);
        expect(rows.map((r) => r.name).sort()).toEqual(['Ada', 'Nul Id', 'Plain']);
        const values = await k.customFieldValues(target);
        // PostgreSQL cannot hold NUL in text: the title and id become U+FFFD there; SQLite keeps them.
        const replaced = k.kind === 'postgres' ? '\ufffd' : '\u0000';
        expect(values.map((v) => [v.field_id, v.title])).toEqual([[`cf${replaced}1`, `Ti${replaced}tle`]]);
      }
    });

    it('records without a usable key or with a huge key are left out with a notice; the rest of the page is stored', async () => {
      const s = await sink();
      const result = await s.upsertPage(
        candidates,
        [{ name: 'no id' }, { id: { nested: true } }, { id: 'x'.repeat(5000) }, { id: 'c1', name: 'Ada' }],
        state('p1'),
      );
      expect(result.inserted).toBe(1);
      expect(result.notStored).toBe(3);
      expect(result.notices).toEqual([
        'records with no usable key field "id" are not stored (see the log for their count)',
        'records with a key longer than 1000 bytes are not stored (see the log for their count)',
      ]);
      expect(raws(await s.readRows('candidates'))).toEqual([{ id: 'c1', name: 'Ada' }]);
    });

    it.skipIf(!isSql)('a key of another type than its column is left out with a notice', async () => {
      const s = await sink();
      await s.upsertPage(candidates, [{ id: 'c1' }], state('p1'));
      const result = await s.upsertPage(candidates, [{ id: 42 }, { id: 'c2' }], state('p1'));
      expect(result.inserted).toBe(1);
      expect(result.notStored).toBe(1);
      expect(result.notices).toEqual([
        "records whose key does not fit the type of the table's key column are not stored",
      ]);
    });
  });
}

describe('sync outputs are private', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-modes-'));
    dirs.push(d);
    return d;
  };
  const mode = (p: string) => fs.statSync(p).mode & 0o777;
  // The expectations below are for the usual umask.
  const previous = process.umask(0o022);
  afterAll(() => {
    process.umask(previous);
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('a SQLite file (and its WAL) is created 0600 in a new 0700 directory; JSONL files 0600 in a 0700 directory', async () => {
    const root = tmp();
    const db = path.join(root, 'new', 'ashby.db');
    const sqlite = openSink(`sqlite:${db}`);
    await sqlite.open();
    await sqlite.upsertPage(candidates, [{ id: 'c1', name: 'Ada' }], state('p1'));
    expect(mode(path.join(root, 'new'))).toBe(0o700);
    expect(mode(db)).toBe(0o600);
    expect(mode(`${db}-wal`)).toBe(0o600);
    await sqlite.close();

    const dir = path.join(root, 'export');
    const jsonl = openSink(`jsonl:${dir}`);
    await jsonl.open();
    await jsonl.upsertPage(candidates, [{ id: 'c1', name: 'Ada' }], state('p1'));
    await jsonl.close();
    expect(mode(dir)).toBe(0o700);
    // Stream logs and the per-stream state files are 0600; the directories holding them 0700.
    const walk = (d: string): void => {
      for (const f of fs.readdirSync(d)) {
        const p = path.join(d, f);
        if (fs.statSync(p).isDirectory()) {
          expect(mode(p), p).toBe(0o700);
          walk(p);
        } else expect(mode(p), p).toBe(0o600);
      }
    };
    walk(dir);
    expect(fs.readdirSync(path.join(dir, '_ashpipe_state')).length).toBeGreaterThan(0);
  });

  it('--output-mode umask widens them to what the umask gives, and existing files keep their mode', async () => {
    const root = tmp();
    const db = path.join(root, 'shared', 'ashby.db');
    const sqlite = openSink(`sqlite:${db}`, { outputMode: 'umask' });
    await sqlite.open();
    await sqlite.close();
    expect(mode(path.join(root, 'shared'))).toBe(0o755);
    expect(mode(db)).toBe(0o644);
    const existing = path.join(root, 'existing.db');
    fs.writeFileSync(existing, '');
    fs.chmodSync(existing, 0o640);
    const again = openSink(`sqlite:${existing}`);
    await again.open();
    await again.close();
    expect(mode(existing)).toBe(0o640);
  });
});

describe('the sync summary', () => {
  it('names what was left out: a capped table (a sink notice) and a record without a key (a reject), and the stream still succeeds', async () => {
    const { FakeSource } = await import('../sync/fake-source.js');
    const { runSync } = await import('../../src/sync/index.js');
    const { formatSummary } = await import('../../src/cli/render/summary.js');
    const { selectStreams } = await import('../../src/streams/index.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-summary-'));
    const sink = openSink(`sqlite:${path.join(dir, 'ashby.db')}`);
    await sink.open();
    try {
      const source = new FakeSource(10);
      source.set('candidate.list', [wide('c1', 2100), { id: 'c2', name: 'Ada' }, { name: 'no id' }]);
      const summary = await runSync({
        client: source,
        sink,
        streams: selectStreams({ streams: ['candidates'] }),
      });
      const stream = summary.streams.find((s) => s.stream === 'candidates');
      expect(stream?.status).toBe('ok');
      // The record without an id never reaches the sink: the engine rejects it with the reason.
      expect(stream?.rejected).toBe(1);
      expect(stream?.rejects?.[0]?.reason).toMatch(/id/);
      expect(stream?.notices).toEqual([
        `the table has its ${MAX_TYPED_COLUMNS} typed columns: later fields are kept only in _ashpipe_raw`,
      ]);
      const text = formatSummary(summary);
      expect(text).toContain('Notices:');
      expect(text).toContain(`candidates: the table has its ${MAX_TYPED_COLUMNS} typed columns`);
    } finally {
      await sink.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
