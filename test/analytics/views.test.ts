import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANALYTICS_VIEWS,
  installAnalytics,
  listAnalytics,
  openAnalyticsTarget,
  readView,
  type ViewRow,
} from '../../src/analytics/index.js';
import { makeTarget, POSTGRES_URL, type TestTarget } from '../sync/helpers.js';
import { storeFixture } from './fixture.js';

const DIALECTS: Array<'sqlite' | 'postgres'> = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];
const D = 86_400;

/**
 * The answers, worked out by hand from the records in fixture.ts (see the comments there for what each
 * application went through). Medians and p90s use the nearest-rank rule: rank ⌈n/2⌉ and ⌈0.9n⌉.
 */
function answers(job4OpenedAt: string): Record<string, ViewRow[]> {
  const funnel = (
    job_id: string,
    job_title: string,
    stage_id: string,
    stage_title: string,
    stage_number: number,
    archive_stage: number,
    entered: number,
    currently_in: number,
    advanced: number,
    archived: number,
    conversion_to_next: number,
  ) => ({
    job_id,
    job_title,
    stage_id,
    stage_title,
    stage_number,
    archive_stage,
    entered,
    currently_in,
    advanced,
    archived,
    conversion_to_next,
  });
  return {
    analytics_application_funnel: [
      // job-1: app-1..5 entered review; app-4 is still there; app-2 was archived after the phone screen.
      // stage_number is the lowest place of an entry in an application's history: app-2 reached the
      // archive stage as its third entry (2), below Onsite's 2 and Hired's 3; archive_stage puts it last.
      funnel('job-1', 'Engineer', 'stage-1', 'Application Review', 0, 0, 5, 1, 4, 0, 0.8),
      funnel('job-1', 'Engineer', 'stage-2', 'Phone Screen', 1, 0, 4, 0, 3, 1, 0.75),
      funnel('job-1', 'Engineer', 'stage-3', 'Onsite', 2, 0, 3, 1, 2, 0, 0.6667),
      funnel('job-1', 'Engineer', 'stage-h', 'Hired', 3, 0, 2, 2, 0, 0, 0),
      funnel('job-1', 'Engineer', 'stage-a', 'Archived', 2, 1, 1, 0, 0, 0, 0),
      funnel('job-2', 'Designer', 'stage-1', 'Application Review', 0, 0, 1, 0, 1, 0, 1),
      funnel('job-2', 'Designer', 'stage-h', 'Hired', 1, 0, 1, 1, 0, 0, 0),
    ],
    analytics_time_in_stage: [
      // Review stays of app-1, app-2, app-3, app-5: 2, 1, 4, 1 days → sorted 1, 1, 2, 4: median rank 2, p90 rank 4.
      {
        job_id: 'job-1',
        job_title: 'Engineer',
        stage_id: 'stage-1',
        stage_title: 'Application Review',
        stays: 4,
        median_seconds: 1 * D,
        p90_seconds: 4 * D,
      },
      // Phone screens: 5, 3, 1, 2 days → 1, 2, 3, 5.
      {
        job_id: 'job-1',
        job_title: 'Engineer',
        stage_id: 'stage-2',
        stage_title: 'Phone Screen',
        stays: 4,
        median_seconds: 2 * D,
        p90_seconds: 5 * D,
      },
      // Onsites: 10 and 7 days → median rank 1 (7), p90 rank 2 (10).
      {
        job_id: 'job-1',
        job_title: 'Engineer',
        stage_id: 'stage-3',
        stage_title: 'Onsite',
        stays: 2,
        median_seconds: 7 * D,
        p90_seconds: 10 * D,
      },
      {
        job_id: 'job-2',
        job_title: 'Designer',
        stage_id: 'stage-1',
        stage_title: 'Application Review',
        stays: 1,
        median_seconds: D + 0.5,
        p90_seconds: D + 0.5,
      },
    ],
    analytics_time_to_hire: [
      // app-1: Jan 2 → Jan 19 (17 days); app-5: Jan 10 → Jan 20 (10 days).
      { job_id: 'job-1', job_title: 'Engineer', hires: 2, median_seconds: 10 * D, p90_seconds: 17 * D },
      { job_id: 'job-2', job_title: 'Designer', hires: 1, median_seconds: D + 0.5, p90_seconds: D + 0.5 },
    ],
    analytics_time_to_fill: [
      {
        job_id: 'job-1',
        job_title: 'Engineer',
        job_status: 'Closed',
        opened_at: '2026-01-01T00:00:00.000Z',
        hires: 2,
        first_hire_at: '2026-01-19T00:00:00.000Z',
        seconds_to_fill: 18 * D,
      },
      {
        job_id: 'job-2',
        job_title: 'Designer',
        job_status: 'Closed',
        opened_at: '2026-02-01T00:00:00.000Z',
        hires: 1,
        first_hire_at: '2026-02-03T00:00:00.500Z',
        seconds_to_fill: 2 * D + 0.5,
      },
      {
        job_id: 'job-4',
        job_title: 'Recruiter',
        job_status: 'Open',
        opened_at: job4OpenedAt,
        hires: 0,
        first_hire_at: null,
        seconds_to_fill: null,
      },
      {
        job_id: 'job-5',
        job_title: 'Analyst',
        job_status: 'Open',
        opened_at: null,
        hires: 0,
        first_hire_at: null,
        seconds_to_fill: null,
      },
    ],
    analytics_source_effectiveness: [
      // app-4 has no source; its only schedule is deleted.
      {
        source_id: null,
        source_title: null,
        applications: 1,
        interviewed: 0,
        offered: 0,
        hired: 0,
        hire_rate: 0,
      },
      // app-1, app-3, app-6: app-3's schedule is cancelled; all three have offers; app-1 and app-6 hired.
      {
        source_id: 'src-1',
        source_title: 'Referral',
        applications: 3,
        interviewed: 1,
        offered: 3,
        hired: 2,
        hire_rate: 0.6667,
      },
      // app-2, app-5, app-8: app-2's offer is deleted; app-5 has two offers and two schedules.
      {
        source_id: 'src-2',
        source_title: 'LinkedIn',
        applications: 3,
        interviewed: 2,
        offered: 1,
        hired: 1,
        hire_rate: 0.3333,
      },
    ],
    analytics_hires_by_source: [
      // app-1 (Referral) entered Hired on Jan 19, app-5 (LinkedIn) on Jan 20, app-6 (Referral, Designer) on
      // Feb 3 at 00:00:00.5; app-7 (Referral, with an accepted offer) is deleted.
      {
        source_id: 'src-1',
        source_title: 'Referral',
        job_id: 'job-1',
        job_title: 'Engineer',
        hired_on: '2026-01-19',
        hires: 1,
      },
      {
        source_id: 'src-2',
        source_title: 'LinkedIn',
        job_id: 'job-1',
        job_title: 'Engineer',
        hired_on: '2026-01-20',
        hires: 1,
      },
      {
        source_id: 'src-1',
        source_title: 'Referral',
        job_id: 'job-2',
        job_title: 'Designer',
        hired_on: '2026-02-03',
        hires: 1,
      },
    ],
    analytics_offer_acceptance: [
      // o-1, o-2 accepted, o-3 declined, o-6 cancelled; o-5 deleted, o-7's application deleted.
      {
        job_id: 'job-1',
        job_title: 'Engineer',
        offers: 4,
        accepted: 2,
        declined: 1,
        undecided: 1,
        acceptance_rate: 0.6667,
      },
      {
        job_id: 'job-2',
        job_title: 'Designer',
        offers: 1,
        accepted: 1,
        declined: 0,
        undecided: 0,
        acceptance_rate: 1,
      },
    ],
    analytics_interviewer_load: [
      // Monday Jan 5 and Sunday Jan 11 23:00 fall in the week of Jan 5; the cancelled and deleted
      // schedules' events count for nobody.
      { interviewer_user_id: 'user-1', week_start: '2026-01-05', interviews: 2 },
      { interviewer_user_id: 'user-1', week_start: '2026-01-12', interviews: 1 },
      { interviewer_user_id: 'user-2', week_start: '2026-01-05', interviews: 1 },
      { interviewer_user_id: 'user-2', week_start: '2026-01-12', interviews: 1 },
      { interviewer_user_id: 'user-3', week_start: '2026-01-12', interviews: 1 },
    ],
    analytics_open_jobs_aging: [
      // Opened 10.5 days ago: 10 whole days. job-3 is open but deleted.
      {
        job_id: 'job-4',
        job_title: 'Recruiter',
        department_id: 'dept-1',
        opened_at: job4OpenedAt,
        age_days: 10,
        active_applications: 1,
      },
      {
        job_id: 'job-5',
        job_title: 'Analyst',
        department_id: 'dept-2',
        opened_at: null,
        age_days: null,
        active_applications: 0,
      },
    ],
  };
}

/** One moment for every store, so that job-4's opening is the same record in each. */
const NOW = Date.now();
const results = new Map<string, Record<string, ViewRow[]>>();

describe.each(DIALECTS)('analytics views on %s', (dialect) => {
  let t: TestTarget;
  let expected: Record<string, ViewRow[]>;
  beforeAll(async () => {
    t = await makeTarget(dialect);
    const { job4OpenedAt } = await storeFixture(t.target, NOW);
    expected = answers(job4OpenedAt);
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('installs every view, and lists them as installed', async () => {
    const target = openAnalyticsTarget(t.target);
    try {
      const installed = await installAnalytics(target);
      expect(installed.filter((v) => v.status !== 'installed')).toEqual([]);
      // Installing again replaces the views.
      await installAnalytics(target);
      const listed = await listAnalytics(target);
      expect(listed.map((v) => [v.name, v.installed])).toEqual(ANALYTICS_VIEWS.map((v) => [v.name, true]));
    } finally {
      await target.close();
    }
  });

  it.each(ANALYTICS_VIEWS.map((v) => v.name))('%s gives the hand-computed answer', async (name) => {
    const target = openAnalyticsTarget(t.target);
    try {
      const { columns, rows } = await readView(target, name);
      expect(columns).toEqual(Object.keys(expected[name]?.[0] ?? {}));
      expect(rows).toEqual(expected[name]);
      const all = results.get(dialect) ?? {};
      all[name] = rows;
      results.set(dialect, all);
    } finally {
      await target.close();
    }
  });
});

describe('analytics views on SQLite and PostgreSQL', () => {
  it.skipIf(!POSTGRES_URL)('give identical results for the same data', () => {
    const sqlite = results.get('sqlite');
    const postgres = results.get('postgres');
    expect(Object.keys(sqlite ?? {})).toHaveLength(ANALYTICS_VIEWS.length);
    expect(postgres).toEqual(sqlite);
  });
});

describe('a target without the tables a view reads', () => {
  it('installs what it can and names the tables the others need', async () => {
    const t = await makeTarget('sqlite');
    try {
      const target = openAnalyticsTarget(t.target);
      try {
        const installed = await installAnalytics(target);
        expect(installed.every((v) => v.status === 'skipped')).toBe(true);
        expect(installed.find((v) => v.name === 'analytics_interviewer_load')?.missing).toEqual([
          'interview_schedules',
        ]);
        await expect(readView(target, 'analytics_interviewer_load')).rejects.toThrow(/analytics install/);
      } finally {
        await target.close();
      }
    } finally {
      await t.cleanup();
    }
  });
});
