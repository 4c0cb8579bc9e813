import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSink, type StreamShape } from '../../src/sinks/index.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const candidates: StreamShape = { name: 'candidates', primaryKey: ['id'] };

function lines(file: string): Array<Record<string, unknown>> {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('jsonl sink files', () => {
  it('appends one change line per upsert, seen and delete, with the record as received', async () => {
    const dir = path.join(root, 'log');
    const sink = openSink(`jsonl:${dir}`);
    await sink.open();
    await sink.upsertPage(candidates, [{ id: 'a', n: 1 }, { id: 'b' }], { passId: 'p1' });
    await sink.upsertPage(candidates, [{ id: 'a', n: 1 }], { passId: 'p2' });
    await sink.finishFullPass(candidates, 'p2', { passId: 'p2' });
    await sink.close();
    const changes = lines(path.join(dir, 'candidates.jsonl'));
    expect(changes.map((c) => [c.op, c.key, c.passId, c.record])).toEqual([
      ['upsert', { id: 'a' }, 'p1', { id: 'a', n: 1 }],
      ['upsert', { id: 'b' }, 'p1', { id: 'b' }],
      ['seen', { id: 'a' }, 'p2', undefined],
      ['delete', { id: 'b' }, 'p2', undefined],
    ]);
    expect(changes.every((c) => c.stream === 'candidates' && typeof c.time === 'string')).toBe(true);
  });

  it('writes the parent of a child stream page into its upsert and seen lines, not into the record', async () => {
    const dir = path.join(root, 'parent');
    const notes: StreamShape = { name: 'candidate_notes', primaryKey: ['id'] };
    const sink = openSink(`jsonl:${dir}`);
    await sink.open();
    const parent = { field: 'candidateId', value: 'c1' };
    await sink.upsertPage(notes, [{ id: 'n1', content: 'x' }], { passId: 'p1' }, { parent });
    await sink.upsertPage(notes, [{ id: 'n1', content: 'x' }], { passId: 'p2' }, { parent });
    await sink.close();
    const changes = lines(path.join(dir, 'candidate_notes.jsonl'));
    expect(changes.map((c) => [c.op, c.parent, c.record])).toEqual([
      ['upsert', parent, { id: 'n1', content: 'x' }],
      ['seen', parent, undefined],
    ]);
  });

  it('discards a torn tail written after the last committed state when reopened', async () => {
    const dir = path.join(root, 'torn');
    const first = openSink(`jsonl:${dir}`);
    await first.open();
    await first.upsertPage(candidates, [{ id: 'a' }, { id: 'b' }], { passId: 'p1', cursor: 'c1' });
    await first.close();
    const file = path.join(dir, 'candidates.jsonl');
    const committed = fs.statSync(file).size;
    // A crash after the lines of the next page were written but before its state was saved.
    fs.appendFileSync(
      file,
      `${JSON.stringify({ op: 'upsert', stream: 'candidates', key: { id: 'c' }, time: 't', passId: 'p1', record: { id: 'c' } })}\n{"op":"ups`,
    );
    // A crash during the very first page of another stream.
    fs.writeFileSync(path.join(dir, 'jobs.jsonl'), '{"op":"upsert","stream":"jobs","key":{"id":"j1"}');

    const second = openSink(`jsonl:${dir}`);
    await second.open();
    expect(fs.statSync(file).size).toBe(committed);
    expect(fs.statSync(path.join(dir, 'jobs.jsonl')).size).toBe(0);
    expect((await second.readRows('candidates')).map((r) => r.id)).toEqual(['a', 'b']);
    expect(await second.getState('candidates')).toEqual({ passId: 'p1', cursor: 'c1' });
    expect(await second.readRows('jobs')).toEqual([]);
    // The resumed page applies cleanly on top.
    const resumed = await second.upsertPage(candidates, [{ id: 'c' }, { id: 'b' }], {
      passId: 'p1',
      cursor: 'c2',
    });
    expect(resumed).toMatchObject({ inserted: 1, unchanged: 1 });
    expect((await second.finishFullPass(candidates, 'p1', { passId: 'p1' })).deleted).toBe(0);
    expect(lines(file).map((c) => c.op)).toEqual(['upsert', 'upsert', 'upsert', 'seen']);
    await second.close();
  });

  it('refuses to open when a stream file is shorter than its committed state', async () => {
    const dir = path.join(root, 'short');
    const sink = openSink(`jsonl:${dir}`);
    await sink.open();
    await sink.upsertPage(candidates, [{ id: 'a' }], { passId: 'p1' });
    await sink.close();
    fs.truncateSync(path.join(dir, 'candidates.jsonl'), 3);
    await expect(openSink(`jsonl:${dir}`).open()).rejects.toThrow(/shorter than its committed state/);
  });
});

describe('JSONL state of an earlier version', () => {
  it('is split into one state file per stream when the sink opens, nothing lost', async () => {
    const dir = path.join(root, 'legacy');
    fs.mkdirSync(dir, { recursive: true });
    const line = (id: string) =>
      `${JSON.stringify({ op: 'upsert', stream: 'candidates', key: { id }, time: 't', passId: 'p1', record: { id } })}\n`;
    fs.writeFileSync(path.join(dir, 'candidates.jsonl'), line('a') + line('b'));
    const committed = fs.statSync(path.join(dir, 'candidates.jsonl')).size;
    fs.writeFileSync(
      path.join(dir, '_ashpipe_state.json'),
      JSON.stringify({
        version: 1,
        streams: {
          candidates: {
            state: { passId: 'p1', cursor: 'c2', extra: { parentDone: 'x' } },
            offset: committed,
            primaryKey: ['id'],
          },
          jobs: { state: { syncToken: 'tok' }, offset: 0 },
        },
      }),
    );
    const sink = openSink(`jsonl:${dir}`);
    await sink.open();
    expect(fs.existsSync(path.join(dir, '_ashpipe_state.json'))).toBe(false);
    expect(fs.readdirSync(path.join(dir, '_ashpipe_state')).sort()).toEqual(['candidates.json', 'jobs.json']);
    expect(await sink.getState('candidates')).toEqual({
      passId: 'p1',
      cursor: 'c2',
      extra: { parentDone: 'x' },
    });
    expect(await sink.getState('jobs')).toEqual({ syncToken: 'tok' });
    expect((await sink.readRows('candidates')).map((r) => r.id)).toEqual(['a', 'b']);
    // Lines of earlier versions have no clock value: they count as seen before any pass that starts now.
    await sink.beginPass('candidates', 'p2');
    await sink.upsertPage(candidates, [{ id: 'a' }], { passId: 'p2', passKind: 'full' });
    expect((await sink.finishFullPass(candidates, 'p2', { passId: 'p2' })).deleted).toBe(1);
    await sink.close();
  });
});
