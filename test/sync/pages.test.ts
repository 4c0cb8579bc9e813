import { describe, expect, it } from 'vitest';
import type { ConfidentialContext } from '../../src/streams/index.js';
import { findStream } from '../../src/streams/index.js';
import { keyProblem, screenPage } from '../../src/sync/pages.js';

const emptyContext = (): ConfidentialContext => ({
  jobIds: new Set(),
  applicationIds: new Set(),
  projectIds: new Set(),
});

describe('a record without a usable primary key', () => {
  const cases: Array<[unknown, string | undefined]> = [
    [{ id: 'c1' }, undefined],
    [{ name: 'no id' }, 'no id'],
    [{ id: null }, 'no id'],
    [{ id: 42 }, 'id is a number, not a string'],
    [{ id: true }, 'id is a boolean, not a string'],
    [{ id: { nested: 'x' } }, 'id is an object, not a string'],
    [{ id: ['a'] }, 'id is an array, not a string'],
    [{ id: '' }, 'id is empty'],
    ['a string', 'not an object (a string)'],
    [null, 'not an object (null)'],
    [[{ id: 'x' }], 'not an object (an array)'],
  ];
  it.each(cases)('%j → %s', (record, problem) => {
    expect(keyProblem(record, ['id'])).toBe(problem);
  });
});

describe('screening a page', () => {
  it('keeps good records in order and rejects the others with their reason', () => {
    const candidates = findStream('candidates');
    if (!candidates) throw new Error('no candidates stream');
    const page = screenPage(
      [{ id: 'a' }, { name: 'x' }, { id: 7 }, { id: 'b' }],
      candidates,
      emptyContext(),
      false,
    );
    expect(page.kept).toEqual([{ id: 'a' }, { id: 'b' }]);
    expect(page.rejected).toEqual([
      { record: { name: 'x' }, reason: 'no id' },
      { record: { id: 7 }, reason: 'id is a number, not a string' },
    ]);
  });

  it('drops confidential jobs and remembers their ids once', () => {
    const jobs = findStream('jobs');
    if (!jobs) throw new Error('no jobs stream');
    const context = emptyContext();
    context.jobIds.add('j0');
    const page = screenPage(
      [
        { id: 'j0', confidential: true },
        { id: 'j1', confidential: true },
        { id: 'j2', confidential: false },
      ],
      jobs,
      context,
      true,
    );
    expect(page.kept.map((r) => r.id)).toEqual(['j2']);
    expect(page.dropped).toBe(2);
    expect(page.newConfidentialIds).toEqual(['j1']);
    expect([...context.jobIds].sort()).toEqual(['j0', 'j1']);
    // Without the flag nothing is dropped.
    expect(screenPage([{ id: 'j1', confidential: true }], jobs, emptyContext(), false).kept).toHaveLength(1);
  });
});
