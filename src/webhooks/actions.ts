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

export type ApplyStep = UpsertStep | DeleteStep | RereadCandidateStep;

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
 * Every action Ashby sends (API-NOTES §7) and its steps. `ping` is answered by the receiver itself;
 * actions missing here are stored and acknowledged but not applied (job postings: `jobPosting.list`
 * lists published postings of one board in another shape than the payload; interview plan transitions
 * carry no record of a synced stream).
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
  surveySubmit: upsert('survey_submissions', 'surveySubmission'),
};

/** Whether the applier knows what to do with `action`. */
export function isAppliedAction(action: string): boolean {
  return Object.hasOwn(ACTIONS, action);
}
