/**
 * A small recruiting world written out by hand, stored through a real sink, for the analytics views. The
 * answers each view must give are written out in views.test.ts, worked out from these records by hand.
 *
 * Jobs: job-1 Engineer (Closed, opened 2026-01-01), job-2 Designer (Closed, opened 2026-02-01), job-3
 * (deleted), job-4 Recruiter (Open, opened 10.5 days before the test runs), job-5 Analyst (Open, never opened).
 * Stages: stage-1 Application Review, stage-2 Phone Screen, stage-3 Onsite, stage-h Hired, stage-a Archived.
 * Each entry's `stageNumber` is its place in the application's history (0 for the first), as Ashby counts it.
 */
import { openSink, type StreamShape } from '../../src/sinks/index.js';

type Rec = Record<string, unknown>;
const DAY = 86_400_000;

const STAGES: Record<string, string> = {
  'stage-1': 'Application Review',
  'stage-2': 'Phone Screen',
  'stage-3': 'Onsite',
  'stage-h': 'Hired',
  'stage-a': 'Archived',
};

/** Stage entries of one application: [stage, entered, left?]; ids `h-<app>-<n>`. */
function history(app: string, steps: Array<[string, string, string?]>): Rec[] {
  return steps.map(([stage, entered, left], n) => {
    const entry: Rec = {
      id: `h-${app}-${n}`,
      stageId: stage,
      title: STAGES[stage],
      stageNumber: n,
      enteredStageAt: entered,
      applicationId: app,
      durationSeconds: left ? (Date.parse(left) - Date.parse(entered)) / 1000 : null,
    };
    if (left) entry.leftStageAt = left;
    return entry;
  });
}

const t = (day: string, time = '00:00:00.000') => `2026-${day}T${time}Z`;

function application(
  id: string,
  job: string,
  status: string,
  createdAt: string,
  stage: string,
  source?: [string, string],
): Rec {
  const jobTitles: Record<string, string> = {
    'job-1': 'Engineer',
    'job-2': 'Designer',
    'job-4': 'Recruiter',
  };
  const rec: Rec = {
    id,
    status,
    createdAt,
    updatedAt: createdAt,
    job: { id: job, title: jobTitles[job] ?? job },
    currentInterviewStage: { id: stage, title: STAGES[stage]?.[0] },
  };
  if (source) rec.source = { id: source[0], title: source[1] };
  return rec;
}

const REFERRAL: [string, string] = ['src-1', 'Referral'];
const LINKEDIN: [string, string] = ['src-2', 'LinkedIn'];

/** The records, and the ids to soft-delete, per stream. `now` places job-4's opening. */
export function fixture(now: number): {
  streams: Record<string, Rec[]>;
  parents: Record<string, string>;
  deleted: Record<string, string[]>;
  job4OpenedAt: string;
} {
  const job4OpenedAt = new Date(now - 10.5 * DAY).toISOString();
  const jobs: Rec[] = [
    { id: 'job-1', title: 'Engineer', status: 'Closed', openedAt: t('01-01'), departmentId: 'dept-1' },
    { id: 'job-2', title: 'Designer', status: 'Closed', openedAt: t('02-01'), departmentId: 'dept-2' },
    { id: 'job-3', title: 'Deleted', status: 'Open', openedAt: t('01-01'), departmentId: 'dept-1' },
    { id: 'job-4', title: 'Recruiter', status: 'Open', openedAt: job4OpenedAt, departmentId: 'dept-1' },
    { id: 'job-5', title: 'Analyst', status: 'Open', departmentId: 'dept-2' },
  ];
  const applications: Rec[] = [
    application('app-1', 'job-1', 'Hired', t('01-02'), 'stage-h', REFERRAL),
    application('app-2', 'job-1', 'Archived', t('01-03'), 'stage-a', LINKEDIN),
    application('app-3', 'job-1', 'Active', t('01-05'), 'stage-3', REFERRAL),
    application('app-4', 'job-1', 'Active', t('01-06'), 'stage-1'),
    application('app-5', 'job-1', 'Hired', t('01-10'), 'stage-h', LINKEDIN),
    application('app-6', 'job-2', 'Hired', t('02-02'), 'stage-h', REFERRAL),
    application('app-7', 'job-1', 'Active', t('01-01'), 'stage-2', REFERRAL),
    application('app-8', 'job-4', 'Active', t('01-20'), 'stage-1', LINKEDIN),
  ];
  const stages: Rec[] = [
    ...history('app-1', [
      ['stage-1', t('01-02'), t('01-04')],
      ['stage-2', t('01-04'), t('01-09')],
      ['stage-3', t('01-09'), t('01-19')],
      ['stage-h', t('01-19')],
    ]),
    ...history('app-2', [
      ['stage-1', t('01-03'), t('01-04')],
      ['stage-2', t('01-04'), t('01-07')],
      ['stage-a', t('01-07')],
    ]),
    ...history('app-3', [
      ['stage-1', t('01-05'), t('01-09')],
      ['stage-2', t('01-09'), t('01-10')],
      ['stage-3', t('01-10')],
    ]),
    // app-4's second entry is soft-deleted below: it is still in its first stage.
    ...history('app-4', [
      ['stage-1', t('01-06'), t('01-07')],
      ['stage-2', t('01-07')],
    ]),
    ...history('app-5', [
      ['stage-1', t('01-10'), t('01-11')],
      ['stage-2', t('01-11'), t('01-13')],
      ['stage-3', t('01-13'), t('01-20')],
      ['stage-h', t('01-20')],
    ]),
    ...history('app-6', [
      ['stage-1', t('02-02'), t('02-03', '00:00:00.500')],
      ['stage-h', t('02-03', '00:00:00.500')],
    ]),
    ...history('app-7', [
      ['stage-1', t('01-01'), t('01-02')],
      ['stage-2', t('01-02')],
    ]),
  ];
  // app-4's first entry, as Ashby gives it once the later entry is gone: still open.
  const app4 = stages.find((s) => s.id === 'h-app-4-0') as Rec;
  delete app4.leftStageAt;
  app4.durationSeconds = null;
  const event = (id: string, startTime: string, users: string[]): Rec => ({
    id,
    startTime,
    interviewers: users.map((u) => ({ id: u, firstName: u })),
  });
  const schedules: Rec[] = [
    {
      id: 'is-1',
      applicationId: 'app-1',
      status: 'Complete',
      interviewEvents: [
        event('e-1', t('01-05', '10:00:00.000'), ['user-1', 'user-2']),
        event('e-2', t('01-11', '23:00:00.000'), ['user-1']),
      ],
    },
    {
      id: 'is-2',
      applicationId: 'app-2',
      status: 'Complete',
      interviewEvents: [event('e-3', t('01-12'), ['user-1'])],
    },
    {
      id: 'is-3',
      applicationId: 'app-3',
      status: 'Cancelled',
      interviewEvents: [event('e-4', t('01-06'), ['user-2'])],
    },
    {
      id: 'is-4',
      applicationId: 'app-5',
      status: 'Scheduled',
      interviewEvents: [event('e-5', t('01-14', '09:00:00.000'), ['user-2', 'user-3'])],
    },
    { id: 'is-5', applicationId: 'app-5', status: 'Complete', interviewEvents: [] },
    {
      id: 'is-6',
      applicationId: 'app-4',
      status: 'Complete',
      interviewEvents: [event('e-6', t('01-06'), ['user-3'])],
    },
  ];
  const offers: Rec[] = [
    { id: 'o-1', applicationId: 'app-1', acceptanceStatus: 'Accepted' },
    { id: 'o-2', applicationId: 'app-5', acceptanceStatus: 'Accepted' },
    { id: 'o-3', applicationId: 'app-3', acceptanceStatus: 'Declined' },
    { id: 'o-4', applicationId: 'app-6', acceptanceStatus: 'Accepted' },
    { id: 'o-5', applicationId: 'app-2', acceptanceStatus: 'Pending' },
    { id: 'o-6', applicationId: 'app-5', acceptanceStatus: 'Cancelled' },
    { id: 'o-7', applicationId: 'app-7', acceptanceStatus: 'Accepted' },
  ];
  return {
    streams: {
      jobs,
      applications,
      application_stage_history: stages,
      interview_schedules: schedules,
      offers,
    },
    parents: { application_stage_history: 'applicationId' },
    deleted: {
      jobs: ['job-3'],
      applications: ['app-7'],
      application_stage_history: ['h-app-4-1'],
      interview_schedules: ['is-6'],
      offers: ['o-5'],
    },
    job4OpenedAt,
  };
}

/** Stores the fixture in `target` through the sink, as a sync would. */
export async function storeFixture(target: string, now: number): Promise<{ job4OpenedAt: string }> {
  const data = fixture(now);
  const sink = openSink(target);
  await sink.open();
  try {
    for (const [name, records] of Object.entries(data.streams)) {
      const shape: StreamShape = { name, primaryKey: ['id'] };
      const parentField = data.parents[name];
      if (parentField) {
        // Each parent's records go in a page of their own, as the sync stores them.
        const byParent = new Map<string, Rec[]>();
        for (const r of records) {
          const p = String(r[parentField]);
          byParent.set(p, [...(byParent.get(p) ?? []), r]);
        }
        for (const [value, page] of byParent) {
          await sink.upsertPage(shape, page, {}, { parent: { field: parentField, value } });
        }
      } else {
        await sink.upsertPage(shape, records, {});
      }
      const gone = data.deleted[name] ?? [];
      if (gone.length > 0) await sink.markDeleted(shape, gone);
    }
  } finally {
    await sink.close();
  }
  return { job4OpenedAt: data.job4OpenedAt };
}
