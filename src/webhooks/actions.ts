/**
 * What each webhook action does to the tables: one small declaration per action, run by the applier.
 * Payload records have the shape of the list endpoint's records (API-NOTES §7), so they are stored as
 * sent; a merge re-reads the merged candidate and its applications with `.info`.
 */

/** A record the event carries, to upsert into `stream`. */
export interface UpsertStep {
  type: 'upsert';
  stream: string;
  record: Record<string, unknown>;
}

/** Records to soft-delete in `stream`. */
export interface DeleteStep {
  type: 'delete';
  stream: string;
  id: string;
  mergedInto?: string;
}

/** A candidate to re-read (`candidate.info`) with its applications (`application.info`). */
export interface RereadCandidateStep {
  type: 'reread-candidate';
  id: string;
}

/**
 * Records to re-read through their stream's own list endpoint, so they are stored exactly as a sync
 * stores them: with `ids`, each is upserted as listed or soft-deleted when the list no longer has it;
 * without, every listed record is upserted. `filter` narrows the request (`{ jobId }`).
 */
export interface RereadListStep {
  type: 'reread-list';
  stream: string;
  filter: Record<string, unknown>;
  ids?: string[];
}

/** A record to re-read with its `.info` endpoint. */
export interface RereadInfoStep {
  type: 'reread-info';
  stream: string;
  id: string;
}

export type ApplyStep = UpsertStep | DeleteStep | RereadCandidateStep | RereadListStep | RereadInfoStep;

type Data = Record<string, unknown>;

function objectAt(data: Data, key: string): Record<string, unknown> | undefined {
  const v = data[key];
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function idOf(rec: Record<string, unknown> | undefined): string | undefined {
  return typeof rec?.id === 'string' && rec.id !== '' ? rec.id : undefined;
}

/** Upsert of `data[key]` into `stream`, when the payload has it. */
function upsert(stream: string, key: string): (data: Data) => ApplyStep[] {
  return (data) => {
    const record = objectAt(data, key);
    return record && idOf(record) ? [{ type: 'upsert', stream, record }] : [];
  };
}

/**
 * A posting event: the posting is re-read through `jobPosting.list`, whose records have another shape
 * than the payload's (and than `jobPosting.info`'s), and which alone tells whether the posting is still
 * published on the board the stream syncs; a posting no longer listed is soft-deleted, as the next full
 * pass of the stream would.
 */
function posting(data: Data): ApplyStep[] {
  const id = idOf(objectAt(data, 'jobPosting'));
  return id ? [{ type: 'reread-list', stream: 'job_postings', filter: {}, ids: [id] }] : [];
}

/**
 * Every action Ashby sends (API-NOTES §7) and its steps. `ping` is answered by the receiver itself;
 * actions missing here (any action newer than this version) are stored and acknowledged but not applied.
 */
export const ACTIONS: Readonly<Record<string, (data: Data) => ApplyStep[]>> = {
  applicationSubmit: upsert('applications', 'application'),
  applicationUpdate: upsert('applications', 'application'),
  candidateStageChange: upsert('applications', 'application'),
  pushToHRIS: upsert('applications', 'application'),
  candidateHire: (data) => [
    ...upsert('applications', 'application')(data),
    ...upsert('offers', 'offer')(data),
  ],
  candidateDelete: (data) => {
    const id = idOf(objectAt(data, 'candidate'));
    return id ? [{ type: 'delete', stream: 'candidates', id }] : [];
  },
  candidateMerge: (data) => {
    const deleted = idOf(objectAt(data, 'deletedCandidate'));
    const merged = idOf(objectAt(data, 'mergedCandidate'));
    const steps: ApplyStep[] = [];
    if (deleted)
      steps.push({
        type: 'delete',
        stream: 'candidates',
        id: deleted,
        ...(merged ? { mergedInto: merged } : {}),
      });
    if (merged) steps.push({ type: 'reread-candidate', id: merged });
    return steps;
  },
  interviewScheduleCreate: upsert('interview_schedules', 'interviewSchedule'),
  interviewScheduleUpdate: upsert('interview_schedules', 'interviewSchedule'),
  jobCreate: upsert('jobs', 'job'),
  jobUpdate: upsert('jobs', 'job'),
  offerCreate: upsert('offers', 'offer'),
  offerUpdate: upsert('offers', 'offer'),
  offerDelete: (data) => {
    const id = idOf(objectAt(data, 'offer'));
    return id ? [{ type: 'delete', stream: 'offers', id }] : [];
  },
  openingCreate: upsert('openings', 'opening'),
  jobPostingPublish: posting,
  jobPostingUpdate: posting,
  jobPostingUnpublish: posting,
  // The job moved to another interview plan, and its applications to the new plan's stages: the payload
  // names the job only, so the job and its applications are re-read.
  interviewPlanTransition: (data) => {
    const jobId = typeof data.jobId === 'string' && data.jobId !== '' ? data.jobId : undefined;
    return jobId
      ? [
          { type: 'reread-info', stream: 'jobs', id: jobId },
          { type: 'reread-list', stream: 'applications', filter: { jobId } },
        ]
      : [];
  },
  surveySubmit: upsert('survey_submissions', 'surveySubmission'),
};

/** Whether the applier knows what to do with `action`. */
export function isAppliedAction(action: string): boolean {
  return Object.hasOwn(ACTIONS, action);
}
