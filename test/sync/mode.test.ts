import { describe, expect, it } from 'vitest';
import type { StreamState } from '../../src/sinks/index.js';
import { chooseMode, type ModeChoice, type ModeOptions, type ModeStream } from '../../src/sync/mode.js';

const NOW = new Date('2026-03-10T12:00:00.000Z');
const DAY = 86_400_000;
const daysAgo = (n: number) => new Date(NOW.getTime() - n * DAY).toISOString();

const list: ModeStream = { incremental: true, child: false };
const noToken: ModeStream = { incremental: false, child: false };
const child: ModeStream = { incremental: false, child: true };
const normal: ModeOptions = { fullRefresh: false, reconcileAfterMs: 7 * DAY };

const synced: StreamState = {
  syncToken: 'tok',
  passId: 'p1',
  passKind: 'incremental',
  lastFullPassCompletedAt: daysAgo(2),
  lastCompletedAt: daysAgo(1),
};

describe('chooseMode', () => {
  // Each row: state, stream, options → the choice, written out by hand.
  const cases: Array<[string, StreamState | undefined, ModeStream, ModeOptions, ModeChoice]> = [
    [
      'first sync of an incremental stream',
      undefined,
      list,
      normal,
      { mode: 'full', resume: false, reason: 'first sync' },
    ],
    [
      'changes since the stored token',
      synced,
      list,
      normal,
      { mode: 'incremental', resume: false, reason: 'changes since the last sync' },
    ],
    [
      '--full-refresh wins over a stored token',
      synced,
      list,
      { ...normal, fullRefresh: true },
      { mode: 'full', resume: false, reason: '--full-refresh' },
    ],
    [
      '--full-refresh wins over an interrupted pass',
      { ...synced, cursor: 'c3', pagesCommitted: 3 },
      list,
      { ...normal, fullRefresh: true },
      { mode: 'full', resume: false, reason: '--full-refresh' },
    ],
    [
      'an interrupted incremental pass is resumed as incremental',
      { ...synced, cursor: 'c3', pagesCommitted: 3 },
      list,
      normal,
      { mode: 'incremental', resume: true, reason: 'resumed the interrupted incremental pass after page 3' },
    ],
    [
      'an interrupted full pass is resumed even when a reconcile is due',
      {
        passId: 'p9',
        passKind: 'full',
        cursor: 'c1',
        pagesCommitted: 1,
        lastFullPassCompletedAt: daysAgo(30),
      },
      list,
      normal,
      { mode: 'full', resume: true, reason: 'resumed the interrupted full pass after page 1' },
    ],
    [
      'a cursor without a pass id is not a pass to resume',
      { cursor: 'c1', syncToken: 'tok', lastFullPassCompletedAt: daysAgo(1), lastCompletedAt: daysAgo(1) },
      list,
      normal,
      { mode: 'incremental', resume: false, reason: 'changes since the last sync' },
    ],
    [
      'a child stream resumes from the parent it finished last',
      { passId: 'p1', passKind: 'full', parentDone: 'plan-2', pagesCommitted: 5 },
      child,
      normal,
      { mode: 'full', resume: true, reason: 'resumed the interrupted full pass after page 5' },
    ],
    [
      'a child stream is read in full per parent',
      { passId: 'p1', passKind: 'full', lastCompletedAt: daysAgo(1) },
      child,
      normal,
      { mode: 'full', resume: false, reason: 'child stream: read per parent' },
    ],
    [
      'parent progress of a list stream is no pass to resume',
      { passId: 'p1', passKind: 'full', parentDone: 'x' },
      noToken,
      normal,
      { mode: 'full', resume: false, reason: 'endpoint has no sync token' },
    ],
    [
      'an endpoint without sync tokens is read in full',
      synced,
      noToken,
      normal,
      { mode: 'full', resume: false, reason: 'endpoint has no sync token' },
    ],
    [
      'a stream that completed without a token stored',
      { lastCompletedAt: daysAgo(1), lastFullPassCompletedAt: daysAgo(1) },
      list,
      normal,
      { mode: 'full', resume: false, reason: 'no sync token stored' },
    ],
    [
      'reconcile when the last full pass is older than --reconcile-after',
      { ...synced, lastFullPassCompletedAt: daysAgo(8) },
      list,
      normal,
      { mode: 'full', resume: false, reason: 'reconcile: last full pass 8.0d ago' },
    ],
    [
      'reconcile exactly at the limit',
      { ...synced, lastFullPassCompletedAt: daysAgo(7) },
      list,
      normal,
      { mode: 'full', resume: false, reason: 'reconcile: last full pass 7.0d ago' },
    ],
    [
      'reconcile when no full pass ever completed',
      { syncToken: 'tok', lastCompletedAt: daysAgo(1) },
      list,
      normal,
      { mode: 'full', resume: false, reason: 'reconcile: last full pass never ran' },
    ],
    [
      'reconcile when the stored time cannot be read',
      { ...synced, lastFullPassCompletedAt: 'yesterday' },
      list,
      normal,
      { mode: 'full', resume: false, reason: 'reconcile: last full pass never ran' },
    ],
    [
      'never reconcile with --reconcile-after never',
      { ...synced, lastFullPassCompletedAt: daysAgo(400) },
      list,
      { ...normal, reconcileAfterMs: null },
      { mode: 'incremental', resume: false, reason: 'changes since the last sync' },
    ],
  ];

  it.each(cases)('%s', (_name, state, stream, options, expected) => {
    expect(chooseMode(state, stream, options, NOW)).toEqual(expected);
  });
});
