import { describe, expect, it } from 'vitest';
import { findStream } from '../../src/streams/index.js';
import { chooseMode } from '../../src/sync/index.js';
import { parseRefreshAfter, RefreshAfterError, refreshAfterOf } from '../../src/sync/refresh.js';

const H = 3_600_000;

describe('refresh intervals of streams without a sync token', () => {
  it('parses one interval for all, per stream, or both; 0 is every run and never is on request only', () => {
    expect(parseRefreshAfter('12h')).toEqual({ all: 12 * H });
    expect(parseRefreshAfter('sources=7d, approvals=0')).toEqual({
      streams: { sources: 7 * 24 * H, approvals: 0 },
    });
    expect(parseRefreshAfter('30m,locations=never')).toEqual({
      all: 30 * 60_000,
      streams: { locations: Number.POSITIVE_INFINITY },
    });
  });

  it('names the part that is wrong', () => {
    expect(() => parseRefreshAfter('soon')).toThrow(RefreshAfterError);
    expect(() => parseRefreshAfter('soon')).toThrow('"soon": expected a duration like 24h');
    expect(() => parseRefreshAfter('sources=7x')).toThrow(
      '"sources=7x": expected a duration like 24h, 30m, 7d, 0 or never after sources=',
    );
    expect(() => parseRefreshAfter('sorces=1h')).toThrow('"sorces=1h": unknown stream sorces');
    expect(() => parseRefreshAfter('candidates=1h')).toThrow(
      '"candidates=1h": candidates has a sync token and reads only its changes on every run',
    );
  });

  it('takes the stream’s own interval, then the run-wide one, then the per-stream one', () => {
    const sources = findStream('sources');
    const approvals = findStream('approvals');
    if (!sources || !approvals) throw new Error('streams missing');
    expect(refreshAfterOf(sources, {})).toBe(24 * H);
    expect(refreshAfterOf(approvals, {})).toBe(H);
    expect(refreshAfterOf(approvals, { all: 6 * H })).toBe(6 * H);
    expect(refreshAfterOf(approvals, { all: 6 * H, streams: { approvals: 0 } })).toBe(0);
  });

  it('chooseMode: not due within the interval, due at its end, and never for a first or interrupted read', () => {
    const last = '2026-03-02T06:00:00.000Z';
    const state = { lastFullPassCompletedAt: last, lastCompletedAt: last, passId: 'p1' };
    const stream = { incremental: false, child: false };
    const at = (hours: number) => new Date(Date.parse(last) + hours * H);
    const options = { fullRefresh: false, reconcileAfterMs: null, refreshAfterMs: 24 * H };
    expect(chooseMode(state, stream, options, at(23.9)).notDue).toEqual({
      lastReadAt: last,
      nextReadAt: '2026-03-03T06:00:00.000Z',
    });
    expect(chooseMode(state, stream, options, at(24)).notDue).toBeUndefined();
    // A clock set back reads rather than trusting a read from the future.
    expect(chooseMode(state, stream, options, at(-1)).notDue).toBeUndefined();
    expect(chooseMode(state, stream, { ...options, refresh: true }, at(1)).notDue).toBeUndefined();
    expect(chooseMode(state, stream, { ...options, fullRefresh: true }, at(1)).notDue).toBeUndefined();
    expect(chooseMode(state, stream, { ...options, refreshAfterMs: 0 }, at(1)).notDue).toBeUndefined();
    expect(chooseMode(undefined, stream, options, at(1)).notDue).toBeUndefined();
    expect(chooseMode({ ...state, cursor: 'x' }, stream, options, at(1))).toMatchObject({ resume: true });
    expect(
      chooseMode(state, stream, { ...options, refreshAfterMs: Number.POSITIVE_INFINITY }, at(1000)).notDue,
    ).toEqual({ lastReadAt: last });
    // Streams with a sync token are never left alone.
    expect(
      chooseMode({ ...state, syncToken: 't' }, { incremental: true, child: false }, options, at(1)).notDue,
    ).toBeUndefined();
  });
});
