import { describe, expect, it } from 'vitest';
import type { StreamState } from '../../src/sinks/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { planSync, rememberedConfidentialIds } from '../../src/sync/plan.js';

type Stored = Record<string, StreamState>;

async function plan(asked: string[], stored: Stored, excludeConfidential = false) {
  const planned = await planSync(selectStreams({ streams: asked }), async (s) => stored[s], {
    excludeConfidential,
  });
  return planned.map((p) => ({ name: p.stream.name, note: p.note, waitsFor: p.waitsFor, lock: p.lock }));
}

describe('planSync', () => {
  // Each row: streams asked for, what the target holds → the plan, written out by hand.
  const cases: Array<[string, string[], Stored, boolean, Awaited<ReturnType<typeof plan>>]> = [
    [
      'a child whose parent never completed gets its parent, and waits for it',
      ['interview_stages'],
      {},
      false,
      [
        {
          name: 'interview_stages',
          note: undefined,
          waitsFor: ['interview_plans'],
          lock: 'interview_stages',
        },
        {
          name: 'interview_plans',
          note: 'added: interview_stages needs it',
          waitsFor: [],
          lock: 'interview_plans',
        },
      ],
    ],
    [
      'a child whose parent completed before walks the stored rows alone',
      ['interview_stages'],
      { interview_plans: { lastCompletedAt: '2026-03-01T00:00:00.000Z' } },
      false,
      [
        {
          name: 'interview_stages',
          note: undefined,
          waitsFor: ['interview_plans'],
          lock: 'interview_stages',
        },
      ],
    ],
    [
      "a parent's pass that never completed does not count (an earlier version's state too)",
      ['interview_stages'],
      { interview_plans: { passId: 'p', cursor: 'c', extra: {} } as StreamState },
      false,
      [
        {
          name: 'interview_stages',
          note: undefined,
          waitsFor: ['interview_plans'],
          lock: 'interview_stages',
        },
        {
          name: 'interview_plans',
          note: 'added: interview_stages needs it',
          waitsFor: [],
          lock: 'interview_plans',
        },
      ],
    ],
    [
      'streams that need nothing start together, each under its own lock',
      ['users', 'candidates'],
      {},
      false,
      [
        { name: 'users', note: undefined, waitsFor: [], lock: 'users' },
        { name: 'candidates', note: undefined, waitsFor: [], lock: 'candidates' },
      ],
    ],
    [
      'under --exclude-confidential a stream waits for the streams whose confidential ids it needs',
      ['jobs', 'applications', 'offers'],
      {},
      true,
      [
        { name: 'jobs', note: undefined, waitsFor: [], lock: 'jobs' },
        { name: 'applications', note: undefined, waitsFor: ['jobs'], lock: 'applications' },
        { name: 'offers', note: undefined, waitsFor: ['applications'], lock: 'offers' },
      ],
    ],
    [
      'without it they do not wait',
      ['jobs', 'applications', 'offers'],
      {},
      false,
      [
        { name: 'jobs', note: undefined, waitsFor: [], lock: 'jobs' },
        { name: 'applications', note: undefined, waitsFor: [], lock: 'applications' },
        { name: 'offers', note: undefined, waitsFor: [], lock: 'offers' },
      ],
    ],
  ];

  it.each(cases)('%s', async (_name, asked, stored, excludeConfidential, expected) => {
    expect(await plan(asked, stored, excludeConfidential)).toEqual(expected);
  });

  it('reads the confidential ids earlier runs remembered, in typed or earlier form', async () => {
    const planned = await planSync(
      selectStreams({ streams: ['jobs', 'applications'] }),
      async () => undefined,
      {
        excludeConfidential: true,
      },
    );
    const stored: Record<string, unknown> = {
      jobs: { confidentialIds: ['j1', 'j2'] },
      applications: { extra: { confidentialIds: ['a1'] } },
    };
    const context = await rememberedConfidentialIds(planned, {
      getState: async (s) => stored[s] as StreamState,
    });
    expect([...context.jobIds]).toEqual(['j1', 'j2']);
    expect([...context.applicationIds]).toEqual(['a1']);
    expect([...context.projectIds]).toEqual([]);
  });
});
