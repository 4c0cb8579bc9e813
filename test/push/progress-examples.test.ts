import { describe, expect, it } from 'vitest';
import { createPushProgress } from '../../src/cli/render/push-progress.js';
import { prepareRow, type RecordResult } from '../../src/push/engine.js';
import { OPERATIONS } from '../../src/push/operations/index.js';

const result = (row: number, status: RecordResult['status']): RecordResult => ({ row, status });

describe('push progress', () => {
  it('without a TTY: a plain line at most once per interval, with the counts so far', () => {
    const lines: string[] = [];
    let now = 0;
    const progress = createPushProgress(
      { write: (s: string) => lines.push(s) },
      { intervalMs: 1000, now: () => now },
    );
    for (let i = 1; i <= 5; i++) progress.read();
    progress.done(result(1, 'created'));
    now = 400;
    progress.done(result(2, 'quarantined'));
    expect(lines).toHaveLength(0);
    now = 1200;
    progress.done(result(3, 'created'));
    progress.stop();
    expect(lines).toEqual(['push: 3/5 records — 2 created, 1 quarantined\n']);
  });

  it('on a TTY: a cli-progress bar with done/read and the counts', () => {
    let text = '';
    const tty = {
      isTTY: true,
      columns: 120,
      write(s: string) {
        text += s;
        return true;
      },
    };
    const progress = createPushProgress(tty);
    progress.read();
    progress.read();
    progress.done(result(1, 'created'));
    progress.done(result(2, 'skipped-done'));
    progress.stop();
    expect(text).toContain('2/2 records');
    expect(text).toContain('1 created, 1 skipped-done');
  });
});

describe('operation examples', () => {
  it.each(OPERATIONS.map((o) => [o.name, o] as const))('the example row of %s is a valid record', (_, op) => {
    const prepared = prepareRow({ row: 1, record: { ...op.example }, raw: op.example }, op);
    expect(prepared.ok ? [] : prepared.issues).toEqual([]);
  });
});
