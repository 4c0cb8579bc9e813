import { describe, expect, it } from 'vitest';
import type { StreamState } from '../../src/sinks/index.js';
import { awaitsFinish, nextState, readState, type StateEvent } from '../../src/sync/state.js';

const T0 = '2026-03-01T10:00:00.000Z';
const T1 = '2026-03-01T11:00:00.000Z';

/** A completed incremental stream, as a later run finds it. */
const settled: StreamState = {
  syncToken: 'tok-1',
  passId: 'old',
  passKind: 'incremental',
  passStartedAt: T0,
  pagesCommitted: 4,
  lastFullPassCompletedAt: T0,
  lastCompletedAt: T0,
  confidentialIds: ['j9'],
};

describe('the sync state reducer', () => {
  // Each row: the state before, the event, the state after — written out by hand from the rules in
  // src/sync/README.md, not computed.
  const cases: Array<[string, StreamState, StateEvent, StreamState]> = [
    [
      'a full pass starts without the stored token, keeping when the last passes completed',
      settled,
      { type: 'pass-started', passId: 'p1', mode: 'full', at: T1 },
      {
        passId: 'p1',
        passKind: 'full',
        passStartedAt: T1,
        pagesCommitted: 0,
        lastFullPassCompletedAt: T0,
        lastCompletedAt: T0,
        confidentialIds: ['j9'],
      },
    ],
    [
      'an incremental pass starts from the stored token',
      settled,
      { type: 'pass-started', passId: 'p2', mode: 'incremental', at: T1 },
      {
        syncToken: 'tok-1',
        passId: 'p2',
        passKind: 'incremental',
        passStartedAt: T1,
        pagesCommitted: 0,
        lastFullPassCompletedAt: T0,
        lastCompletedAt: T0,
        confidentialIds: ['j9'],
      },
    ],
    [
      'a pass starting drops what an interrupted one left',
      {
        passId: 'x',
        cursor: 'c9',
        parentCurrent: 'p',
        parentDone: 'o',
        pendingFinish: true,
        pendingSyncToken: 't',
      },
      { type: 'pass-started', passId: 'p3', mode: 'full', at: T1 },
      { passId: 'p3', passKind: 'full', passStartedAt: T1, pagesCommitted: 0 },
    ],
    [
      'a page with more to come stores its cursor',
      { passId: 'p1', passKind: 'full', pagesCommitted: 2 },
      { type: 'list-page', nextCursor: 'c3', syncToken: undefined, at: T1 },
      { passId: 'p1', passKind: 'full', pagesCommitted: 3, cursor: 'c3' },
    ],
    [
      "the last page of an incremental pass stores Ashby's new token and completes the pass",
      { syncToken: 'tok-1', passId: 'p2', passKind: 'incremental', pagesCommitted: 1, cursor: 'c1' },
      { type: 'list-page', nextCursor: undefined, syncToken: 'tok-2', at: T1 },
      { syncToken: 'tok-2', passId: 'p2', passKind: 'incremental', pagesCommitted: 2, lastCompletedAt: T1 },
    ],
    [
      'the last page of an incremental pass without a new token keeps the old one',
      { syncToken: 'tok-1', passId: 'p2', passKind: 'incremental', pagesCommitted: 0 },
      { type: 'list-page', nextCursor: undefined, syncToken: undefined, at: T1 },
      { syncToken: 'tok-1', passId: 'p2', passKind: 'incremental', pagesCommitted: 1, lastCompletedAt: T1 },
    ],
    [
      'the last page of a full pass keeps its token aside until the deletes are applied',
      { passId: 'p1', passKind: 'full', pagesCommitted: 5, cursor: 'c5' },
      { type: 'list-page', nextCursor: undefined, syncToken: 'tok-9', at: T1 },
      { passId: 'p1', passKind: 'full', pagesCommitted: 6, pendingFinish: true, pendingSyncToken: 'tok-9' },
    ],
    [
      'a child page with more to come names the parent being read',
      { passId: 'p1', passKind: 'full', pagesCommitted: 1, parentDone: 'a' },
      { type: 'child-page', parent: 'b', nextCursor: 'c2', lastParent: false },
      { passId: 'p1', passKind: 'full', pagesCommitted: 2, parentCurrent: 'b', cursor: 'c2' },
    ],
    [
      "a child's last page of one parent marks it done",
      { passId: 'p1', passKind: 'full', pagesCommitted: 2, parentCurrent: 'b', cursor: 'c2' },
      { type: 'child-page', parent: 'b', nextCursor: undefined, lastParent: false },
      { passId: 'p1', passKind: 'full', pagesCommitted: 3, parentDone: 'b' },
    ],
    [
      "a child's last page of the last parent leaves only the deletes to apply",
      { passId: 'p1', passKind: 'full', pagesCommitted: 3, parentDone: 'b' },
      { type: 'child-page', parent: 'c', nextCursor: undefined, lastParent: true },
      { passId: 'p1', passKind: 'full', pagesCommitted: 4, parentDone: 'c', pendingFinish: true },
    ],
    [
      'a child stream without parents completes at once',
      { passId: 'p1', passKind: 'full', pagesCommitted: 0 },
      { type: 'no-parents' },
      { passId: 'p1', passKind: 'full', pagesCommitted: 0, pendingFinish: true },
    ],
    [
      'confidential ids replace the remembered ones',
      { passId: 'p1', confidentialIds: ['a'] },
      { type: 'confidential-ids', ids: ['a', 'b'] },
      { passId: 'p1', confidentialIds: ['a', 'b'] },
    ],
    [
      'a finished full pass stores its token and when it completed, and nothing of its progress',
      {
        passId: 'p1',
        passKind: 'full',
        passStartedAt: T0,
        pagesCommitted: 6,
        parentDone: 'c',
        pendingFinish: true,
        pendingSyncToken: 'tok-9',
        confidentialIds: ['j1'],
      },
      { type: 'pass-finished', at: T1 },
      {
        syncToken: 'tok-9',
        passId: 'p1',
        passKind: 'full',
        passStartedAt: T0,
        pagesCommitted: 6,
        lastFullPassCompletedAt: T1,
        lastCompletedAt: T1,
        confidentialIds: ['j1'],
      },
    ],
    [
      'a refused token is dropped with the pass in progress',
      { ...settled, cursor: 'c2' },
      { type: 'token-discarded' },
      {
        passKind: 'incremental',
        passStartedAt: T0,
        lastFullPassCompletedAt: T0,
        lastCompletedAt: T0,
        confidentialIds: ['j9'],
      },
    ],
  ];

  it.each(cases)('%s', (_name, before, event, after) => {
    const frozen = structuredClone(before);
    expect(nextState(before, event)).toEqual(after);
    // Pure: the state it was given is left as it was.
    expect(before).toEqual(frozen);
  });

  it('never stores an undefined member (the state is JSON)', () => {
    for (const [, before, event] of cases) {
      const after = nextState(before, event);
      expect(Object.values(after).every((v) => v !== undefined)).toBe(true);
      expect(JSON.parse(JSON.stringify(after))).toEqual(after);
    }
  });

  it('says a pass awaits its deletes only when it has an id and read everything', () => {
    expect(awaitsFinish({ passId: 'p', pendingFinish: true })).toBe(true);
    expect(awaitsFinish({ pendingFinish: true })).toBe(false);
    expect(awaitsFinish({ passId: 'p' })).toBe(false);
    expect(awaitsFinish(undefined)).toBe(false);
  });
});

describe('reading a stored state', () => {
  it("moves an earlier version's `extra` members to their typed places", () => {
    const stored = {
      passId: 'p1',
      passKind: 'full',
      pagesCommitted: 3,
      extra: {
        parentDone: 'plan-2',
        pendingFinish: true,
        pendingSyncToken: 'tok',
        confidentialIds: ['j1', 'j2'],
        somethingElse: 1,
      },
    };
    expect(readState(stored)).toEqual({
      passId: 'p1',
      passKind: 'full',
      pagesCommitted: 3,
      parentDone: 'plan-2',
      pendingFinish: true,
      pendingSyncToken: 'tok',
      confidentialIds: ['j1', 'j2'],
    });
  });

  it('drops members of the wrong type instead of trusting them', () => {
    expect(
      readState({ passId: 42, cursor: 'c', pagesCommitted: -1, passKind: 'sideways', confidentialIds: 'j1' }),
    ).toEqual({ cursor: 'c' });
    expect(readState(undefined)).toBeUndefined();
    expect(readState('not a state')).toBeUndefined();
  });

  it('reads a state of this version as it was stored', () => {
    expect(readState(settled)).toEqual(settled);
  });
});
