/**
 * The analytics views: recruiting questions answered from the synced tables, the same names, columns and
 * results on SQLite and PostgreSQL. Every view reads live rows only (`_ashpipe_deleted_at IS NULL`) and
 * reads fields from `_ashpipe_raw`.
 */
import type { Dialect } from './dialect.js';

/** One column of a view, for `docs/analytics.md` and `ashpipe analytics list`. */
export interface ViewColumn {
  name: string;
  /** What the value means, in a sentence or two. */
  description: string;
}

/** An analytics view. */
export interface AnalyticsView {
  /** `analytics_…` */
  name: string;
  /** What question it answers. */
  description: string;
  /** Tables it reads: the view is installed only where all of them exist. */
  needs: readonly string[];
  columns: readonly ViewColumn[];
  /** Columns `analytics show` sorts by (NULLs first), so both databases print the same order. */
  orderBy: readonly string[];
  /** The SELECT defining the view. */
  sql(d: Dialect): string;
}

/**
 * The percentile rule of every median and p90: nearest rank. Of the n values sorted ascending, the p-th
 * percentile is the value at rank ⌈p × n⌉ (1-based): the median is the value at rank ⌈n / 2⌉ (the lower
 * of the two middle values when n is even), the p90 the value at rank ⌈0.9 × n⌉. Integer arithmetic gives
 * the ranks exactly: ⌈n / 2⌉ = (n + 1) / 2 and ⌈9n / 10⌉ = (9n + 9) / 10, both divisions truncating.
 */
export const PERCENTILE_RULE =
  'nearest rank: of the n values sorted ascending, the median is the value at rank ⌈n/2⌉ (the lower middle one when n is even) and the p90 the value at rank ⌈0.9·n⌉';

/** The median and p90 of `value` per group `keys` of the rows of `from`, with the group's row count. */
function percentiles(keys: readonly string[], value: string, from: string): string {
  const k = keys.join(', ');
  return `SELECT ${k}, COUNT(*) AS n,
    MAX(CASE WHEN rn = (cnt + 1) / 2 THEN v END) AS median,
    MAX(CASE WHEN rn = (9 * cnt + 9) / 10 THEN v END) AS p90
  FROM (
    SELECT ${k}, ${value} AS v,
      ROW_NUMBER() OVER (PARTITION BY ${k} ORDER BY ${value}) AS rn,
      COUNT(*) OVER (PARTITION BY ${k}) AS cnt
    FROM (${from}) AS pv
    WHERE ${value} IS NOT NULL
  ) AS ranked
  GROUP BY ${k}`;
}

/** Live applications with the fields the views use. */
function apps(d: Dialect): string {
  // The key column and the stored parent id are indexed: joins on them stay fast on large tables.
  return `SELECT a."id" AS application_id,
      ${d.text('a', ['job', 'id'])} AS job_id,
      ${d.text('a', ['job', 'title'])} AS job_title,
      ${d.text('a', ['status'])} AS status,
      ${d.text('a', ['source', 'id'])} AS source_id,
      ${d.text('a', ['source', 'title'])} AS source_title,
      ${d.text('a', ['createdAt'])} AS created_at,
      ${d.text('a', ['currentInterviewStage', 'id'])} AS current_stage_id
    FROM ${d.table('applications')} AS a
    WHERE a."_ashpipe_deleted_at" IS NULL`;
}

/**
 * Live stage entries of live applications, with the entry's position from the application's latest entry
 * (`from_last`: 1 for the latest, 2 for the one before…), ordered by entry time then stage number.
 */
function entries(d: Dialect): string {
  const entered = d.epoch(d.text('h', ['enteredStageAt']));
  return `SELECT ap.application_id, ap.job_id, ap.job_title, ap.status, ap.current_stage_id, ap.created_at,
      ap.source_id, ap.source_title,
      ${d.text('h', ['stageId'])} AS stage_id,
      ${d.text('h', ['title'])} AS stage_title,
      ${d.number('h', ['stageNumber'])} AS stage_number,
      ${d.text('h', ['enteredStageAt'])} AS entered_stage_at,
      ${d.text('h', ['leftStageAt'])} AS left_stage_at,
      ${d.number('h', ['durationSeconds'])} AS duration_seconds,
      ROW_NUMBER() OVER (
        PARTITION BY ap.application_id
        ORDER BY ${entered} DESC, ${d.number('h', ['stageNumber'])} DESC, ${d.text('h', ['id'])} DESC
      ) AS from_last
    FROM ${d.table('application_stage_history')} AS h
    JOIN (${apps(d)}) AS ap ON ap.application_id = h."_ashpipe_parent_id"
    WHERE h."_ashpipe_deleted_at" IS NULL`;
}

/** Hired applications with the time they entered their last stage (the hire). */
function hires(d: Dialect): string {
  return `SELECT e.application_id, e.job_id, e.job_title, e.created_at, e.source_id, e.source_title,
      e.entered_stage_at AS hired_at
    FROM (${entries(d)}) AS e
    WHERE e.status = 'Hired' AND e.from_last = 1`;
}

const JOB_COLUMNS: readonly ViewColumn[] = [
  { name: 'job_id', description: "The application's job (`application.job.id`)." },
  {
    name: 'job_title',
    description: "The job's title as the application names it (`application.job.title`).",
  },
];

const STAGE_COLUMNS: readonly ViewColumn[] = [
  { name: 'stage_id', description: 'The interview stage (`stageId` of the stage history entry).' },
  {
    name: 'stage_title',
    description: "The stage's title (`title` of the entry; the greatest when entries differ).",
  },
  {
    name: 'stage_number',
    description:
      "The lowest `stageNumber` Ashby gave an entry of this stage: the stage's place in the plan, for ordering.",
  },
];

export const ANALYTICS_VIEWS: readonly AnalyticsView[] = [
  {
    name: 'analytics_application_funnel',
    description:
      'Per job and stage: how many applications entered it, are in it now, moved on, were archived from it.',
    needs: ['applications', 'application_stage_history'],
    columns: [
      ...JOB_COLUMNS,
      ...STAGE_COLUMNS,
      {
        name: 'archive_stage',
        description:
          "1 when the stage is where applications go when archived (the latest entry of an `Archived` application), else 0. `stageNumber` counts an application's moves, so an archive stage reached early has a low number: order by `archive_stage, stage_number` to list it after the plan's stages.",
      },
      { name: 'entered', description: 'Applications with at least one entry into the stage.' },
      {
        name: 'currently_in',
        description:
          'Applications whose current stage it is (`currentInterviewStage.id`, the latest entry) and whose status is not `Archived`.',
      },
      {
        name: 'advanced',
        description:
          'Applications that left the stage for another stage other than by being archived: an entry followed by a later one, except the entry just before the last of an `Archived` application.',
      },
      {
        name: 'archived',
        description:
          'Applications archived from the stage: the status is `Archived` and the entry is the one just before the last (the archive stage).',
      },
      {
        name: 'conversion_to_next',
        description: '`advanced / entered`, rounded to 4 decimals.',
      },
    ],
    orderBy: ['job_id', 'archive_stage', 'stage_number', 'stage_id'],
    sql: (
      d,
    ) => `SELECT e.job_id, MAX(e.job_title) AS job_title, e.stage_id, MAX(e.stage_title) AS stage_title,
    ${d.int('MIN(e.stage_number)')} AS stage_number,
    ${d.int(`MAX(CASE WHEN e.from_last = 1 AND e.status = 'Archived' THEN 1 ELSE 0 END)`)} AS archive_stage,
    ${d.int('COUNT(DISTINCT e.application_id)')} AS entered,
    ${d.int(`COUNT(DISTINCT CASE WHEN e.from_last = 1 AND e.stage_id = e.current_stage_id AND e.status <> 'Archived' THEN e.application_id END)`)} AS currently_in,
    ${d.int(`COUNT(DISTINCT CASE WHEN e.from_last > 1 AND NOT (e.from_last = 2 AND e.status = 'Archived') THEN e.application_id END)`)} AS advanced,
    ${d.int(`COUNT(DISTINCT CASE WHEN e.from_last = 2 AND e.status = 'Archived' THEN e.application_id END)`)} AS archived,
    ${d.ratio(`COUNT(DISTINCT CASE WHEN e.from_last > 1 AND NOT (e.from_last = 2 AND e.status = 'Archived') THEN e.application_id END)`, 'COUNT(DISTINCT e.application_id)')} AS conversion_to_next
  FROM (${entries(d)}) AS e
  GROUP BY e.job_id, e.stage_id`,
  },
  {
    name: 'analytics_time_in_stage',
    description: 'Per job and stage: how long applications stayed, over the stays that ended.',
    needs: ['applications', 'application_stage_history'],
    columns: [
      ...JOB_COLUMNS,
      { name: 'stage_id', description: 'The interview stage (`stageId`).' },
      { name: 'stage_title', description: "The stage's title (the greatest when entries differ)." },
      { name: 'stays', description: 'Stays that ended (entries with a `leftStageAt`).' },
      {
        name: 'median_seconds',
        description: `Median of \`durationSeconds\` (\`leftStageAt − enteredStageAt\`) over those stays; ${PERCENTILE_RULE}.`,
      },
      { name: 'p90_seconds', description: '90th percentile of the same, by the same rule.' },
    ],
    orderBy: ['job_id', 'stage_id'],
    sql: (d) => `SELECT p.job_id, t.job_title, p.stage_id, t.stage_title, ${d.int('p.n')} AS stays,
    p.median AS median_seconds, p.p90 AS p90_seconds
  FROM (${percentiles(['job_id', 'stage_id'], 'duration_seconds', entries(d))}) AS p
  JOIN (SELECT job_id, stage_id, MAX(job_title) AS job_title, MAX(stage_title) AS stage_title
        FROM (${entries(d)}) AS x GROUP BY job_id, stage_id) AS t
    ON t.job_id = p.job_id AND t.stage_id = p.stage_id`,
  },
  {
    name: 'analytics_time_to_hire',
    description: 'Per job: how long hired applications took from being created to being hired.',
    needs: ['applications', 'application_stage_history'],
    columns: [
      ...JOB_COLUMNS,
      {
        name: 'hires',
        description: 'Applications with status `Hired`; each was hired when it entered its latest stage.',
      },
      {
        name: 'median_seconds',
        description: `Median of (latest entry's \`enteredStageAt\` − application \`createdAt\`) in seconds, rounded to 3 decimals; ${PERCENTILE_RULE}.`,
      },
      { name: 'p90_seconds', description: '90th percentile of the same, by the same rule.' },
    ],
    orderBy: ['job_id'],
    sql: (d) => {
      const seconds = d.round(`${d.epoch('hired_at')} - ${d.epoch('created_at')}`, 3);
      return `SELECT p.job_id, t.job_title, ${d.int('p.n')} AS hires, p.median AS median_seconds, p.p90 AS p90_seconds
  FROM (${percentiles(['job_id'], 'seconds', `SELECT job_id, ${seconds} AS seconds FROM (${hires(d)}) AS hh`)}) AS p
  JOIN (SELECT job_id, MAX(job_title) AS job_title FROM (${hires(d)}) AS x GROUP BY job_id) AS t
    ON t.job_id = p.job_id`;
    },
  },
  {
    name: 'analytics_time_to_fill',
    description: 'Per job: how long from opening the job to its first hire.',
    needs: ['jobs', 'applications', 'application_stage_history'],
    columns: [
      { name: 'job_id', description: 'The job (`job.id`), every live job.' },
      { name: 'job_title', description: "The job's title." },
      { name: 'job_status', description: "The job's status (`Open`, `Closed`, `Draft`, `Archived`)." },
      { name: 'opened_at', description: "The job's `openedAt` (NULL if never opened)." },
      { name: 'hires', description: 'Hired applications to the job.' },
      {
        name: 'first_hire_at',
        description: 'When the earliest of them was hired (entered its latest stage).',
      },
      {
        name: 'seconds_to_fill',
        description: '`first_hire_at − opened_at` in seconds, rounded to 3 decimals; NULL without both.',
      },
    ],
    orderBy: ['job_id'],
    sql: (d) => `SELECT ${d.text('j', ['id'])} AS job_id, ${d.text('j', ['title'])} AS job_title,
    ${d.text('j', ['status'])} AS job_status, ${d.text('j', ['openedAt'])} AS opened_at,
    ${d.int('COALESCE(h.hires, 0)')} AS hires, h.first_hire_at,
    ${d.round(`${d.epoch('h.first_hire_at')} - ${d.epoch(d.text('j', ['openedAt']))}`, 3)} AS seconds_to_fill
  FROM ${d.table('jobs')} AS j
  LEFT JOIN (SELECT job_id, COUNT(*) AS hires, MIN(hired_at) AS first_hire_at FROM (${hires(d)}) AS x GROUP BY job_id) AS h
    ON h.job_id = ${d.text('j', ['id'])}
  WHERE j."_ashpipe_deleted_at" IS NULL`,
  },
  {
    name: 'analytics_source_effectiveness',
    description:
      'Per source: applications, how many were interviewed, got an offer, were hired, and the hire rate.',
    needs: ['applications', 'interview_schedules', 'offers'],
    columns: [
      {
        name: 'source_id',
        description: "The application's source (`application.source.id`; NULL: no source).",
      },
      { name: 'source_title', description: "The source's title." },
      { name: 'applications', description: 'Live applications from the source.' },
      {
        name: 'interviewed',
        description:
          'Of those, applications with at least one live interview schedule whose status is not `Cancelled`.',
      },
      { name: 'offered', description: 'Applications with at least one live offer.' },
      { name: 'hired', description: 'Applications with status `Hired`.' },
      { name: 'hire_rate', description: '`hired / applications`, rounded to 4 decimals.' },
    ],
    orderBy: ['source_id'],
    sql: (d) => `SELECT ap.source_id, MAX(ap.source_title) AS source_title,
    ${d.int('COUNT(*)')} AS applications,
    ${d.int('SUM(CASE WHEN s.application_id IS NOT NULL THEN 1 ELSE 0 END)')} AS interviewed,
    ${d.int('SUM(CASE WHEN o.application_id IS NOT NULL THEN 1 ELSE 0 END)')} AS offered,
    ${d.int(`SUM(CASE WHEN ap.status = 'Hired' THEN 1 ELSE 0 END)`)} AS hired,
    ${d.ratio(`SUM(CASE WHEN ap.status = 'Hired' THEN 1 ELSE 0 END)`, 'COUNT(*)')} AS hire_rate
  FROM (${apps(d)}) AS ap
  LEFT JOIN (SELECT DISTINCT ${d.text('s', ['applicationId'])} AS application_id FROM ${d.table('interview_schedules')} AS s
             WHERE s."_ashpipe_deleted_at" IS NULL AND COALESCE(${d.text('s', ['status'])}, '') <> 'Cancelled') AS s
    ON s.application_id = ap.application_id
  LEFT JOIN (SELECT DISTINCT ${d.text('o', ['applicationId'])} AS application_id FROM ${d.table('offers')} AS o
             WHERE o."_ashpipe_deleted_at" IS NULL) AS o
    ON o.application_id = ap.application_id
  GROUP BY ap.source_id`,
  },
  {
    name: 'analytics_hires_by_source',
    description: 'Per source, job and day: how many applications were hired (hires by source over time).',
    needs: ['applications', 'application_stage_history'],
    columns: [
      {
        name: 'source_id',
        description: "The hired application's source (`application.source.id`; NULL: no source).",
      },
      { name: 'source_title', description: "The source's title." },
      ...JOB_COLUMNS,
      {
        name: 'hired_on',
        description:
          'The UTC day (`YYYY-MM-DD`) the application was hired: when it entered its latest stage, its status being `Hired`.',
      },
      { name: 'hires', description: 'Applications from the source to the job hired that day.' },
    ],
    orderBy: ['hired_on', 'source_id', 'job_id'],
    sql: (
      d,
    ) => `SELECT x.source_id, MAX(x.source_title) AS source_title, x.job_id, MAX(x.job_title) AS job_title,
    x.hired_on, ${d.int('COUNT(*)')} AS hires
  FROM (SELECT source_id, source_title, job_id, job_title, SUBSTR(hired_at, 1, 10) AS hired_on
        FROM (${hires(d)}) AS hh) AS x
  GROUP BY x.source_id, x.job_id, x.hired_on`,
  },
  {
    name: 'analytics_offer_acceptance',
    description: 'Per job: offers made, accepted, declined, and the acceptance rate of decided offers.',
    needs: ['applications', 'offers'],
    columns: [
      ...JOB_COLUMNS,
      { name: 'offers', description: 'Live offers on live applications to the job.' },
      { name: 'accepted', description: 'Offers whose `acceptanceStatus` is `Accepted`.' },
      { name: 'declined', description: 'Offers whose `acceptanceStatus` is `Declined`.' },
      {
        name: 'undecided',
        description: '`offers − accepted − declined` (pending, created, cancelled, waiting).',
      },
      {
        name: 'acceptance_rate',
        description: '`accepted / (accepted + declined)`, rounded to 4 decimals; NULL when none is decided.',
      },
    ],
    orderBy: ['job_id'],
    sql: (d) => {
      const status = d.text('o', ['acceptanceStatus']);
      const accepted = `SUM(CASE WHEN ${status} = 'Accepted' THEN 1 ELSE 0 END)`;
      const declined = `SUM(CASE WHEN ${status} = 'Declined' THEN 1 ELSE 0 END)`;
      return `SELECT ap.job_id, MAX(ap.job_title) AS job_title, ${d.int('COUNT(*)')} AS offers,
    ${d.int(accepted)} AS accepted, ${d.int(declined)} AS declined,
    ${d.int(`COUNT(*) - ${accepted} - ${declined}`)} AS undecided,
    ${d.ratio(accepted, `${accepted} + ${declined}`)} AS acceptance_rate
  FROM ${d.table('offers')} AS o
  JOIN (${apps(d)}) AS ap ON ap.application_id = ${d.text('o', ['applicationId'])}
  WHERE o."_ashpipe_deleted_at" IS NULL
  GROUP BY ap.job_id`;
    },
  },
  {
    name: 'analytics_interviewer_load',
    description: 'Per interviewer and week: how many interviews they sat in.',
    needs: ['interview_schedules'],
    columns: [
      {
        name: 'interviewer_user_id',
        description: "A user among an interview event's `interviewers` (`interviewers[].id`).",
      },
      {
        name: 'week_start',
        description: "The Monday (UTC, `YYYY-MM-DD`) of the week of the event's `startTime`.",
      },
      {
        name: 'interviews',
        description:
          'Interview events of live schedules not `Cancelled` that the user is an interviewer of, starting that week.',
      },
    ],
    orderBy: ['interviewer_user_id', 'week_start'],
    sql: (d) => `SELECT ${d.elementText('i.value', ['id'])} AS interviewer_user_id,
    ${d.weekStart(d.elementText('e.value', ['startTime']))} AS week_start,
    ${d.int('COUNT(*)')} AS interviews
  FROM ${d.table('interview_schedules')} AS s
  CROSS JOIN ${d.elements('s', ['interviewEvents'], 'e')}
  CROSS JOIN ${d.elementsOf('e.value', ['interviewers'], 'i')}
  WHERE s."_ashpipe_deleted_at" IS NULL AND COALESCE(${d.text('s', ['status'])}, '') <> 'Cancelled'
    AND ${d.elementText('e.value', ['startTime'])} IS NOT NULL AND ${d.elementText('i.value', ['id'])} IS NOT NULL
  GROUP BY ${d.elementText('i.value', ['id'])}, ${d.weekStart(d.elementText('e.value', ['startTime']))}`,
  },
  {
    name: 'analytics_open_jobs_aging',
    description: 'Open jobs: how long they have been open and how many applications are active on them.',
    needs: ['jobs', 'applications'],
    columns: [
      { name: 'job_id', description: 'A live job whose `status` is `Open`.' },
      { name: 'job_title', description: "The job's title." },
      { name: 'department_id', description: "The job's `departmentId`." },
      { name: 'opened_at', description: "The job's `openedAt`." },
      {
        name: 'age_days',
        description: 'Whole days from `opened_at` to the time of the query (NULL without `openedAt`).',
      },
      { name: 'active_applications', description: 'Live applications to the job whose status is `Active`.' },
    ],
    orderBy: ['job_id'],
    sql: (d) => `SELECT ${d.text('j', ['id'])} AS job_id, ${d.text('j', ['title'])} AS job_title,
    ${d.text('j', ['departmentId'])} AS department_id, ${d.text('j', ['openedAt'])} AS opened_at,
    ${d.floor(`(${d.now()} - ${d.epoch(d.text('j', ['openedAt']))}) / 86400`)} AS age_days,
    ${d.int('COALESCE(act.n, 0)')} AS active_applications
  FROM ${d.table('jobs')} AS j
  LEFT JOIN (SELECT job_id, COUNT(*) AS n FROM (${apps(d)}) AS ap WHERE ap.status = 'Active' GROUP BY job_id) AS act
    ON act.job_id = ${d.text('j', ['id'])}
  WHERE j."_ashpipe_deleted_at" IS NULL AND ${d.text('j', ['status'])} = 'Open'`,
  },
];

/** Looks a view up by name. */
export function findView(name: string): AnalyticsView | undefined {
  return ANALYTICS_VIEWS.find((v) => v.name === name);
}
