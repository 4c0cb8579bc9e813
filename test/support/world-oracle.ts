/**
 * The rows a full sync of each stream must store, computed from the sandbox's world directly — its
 * generator and its write overlay (`World.at`, `World.get`, the parent/child arithmetic) — never through
 * a list handler or the paginator. A wrong filter in a handler therefore shows as a difference instead of
 * being copied into both sides of the comparison.
 *
 * Each stream's rule is written out here by hand from what the stream asks Ashby for (archived and
 * inactive records included) and what the spec says the endpoint returns. The rules describe a key with
 * every scope and confidential access (`sandbox-full`).
 */
import type { Sandbox } from '../../src/sandbox/index.js';
import { childrenOf } from '../../src/sandbox/world/relations.js';
import type { Rec, World } from '../../src/sandbox/world.js';

type Kind = Parameters<World['size']>[0];

/** Every current record of a kind, seeded and created, deleted ones left out, in list order. */
export function worldRecords(world: World, kind: Kind): Rec[] {
  const out: Rec[] = [];
  const size = world.size(kind);
  for (let p = 0; p < size; p++) {
    const rec = world.at(kind, p);
    if (rec) out.push(rec);
  }
  return out;
}

/** The ids of the children of one parent: the seeded share (by proportion), then those created under it. */
function childIds(world: World, parentKind: Kind, kind: Kind, parentId: string): string[] {
  const ids: string[] = [];
  const index = world.indexOf(parentId, parentKind);
  const parents = world.seeded(parentKind);
  if (index !== undefined && index < parents) {
    const [from, to] = childrenOf(index, parents, world.seeded(kind));
    for (let i = from; i < to; i++) ids.push(world.id(kind, i));
  }
  ids.push(...world.createdChildrenOf(kind, parentId));
  return ids;
}

function children(world: World, parentKind: Kind, kind: Kind, parentId: string): Rec[] {
  return childIds(world, parentKind, kind, parentId)
    .map((id) => world.get(id, kind))
    .filter((r): r is Rec => r !== undefined);
}

/** A record with its parent, for child streams (the parent is stored beside it as `_ashpipe_parent_id`). */
export interface ExpectedRow {
  record: Rec;
  parentId?: string;
}

const perParent = (parents: Rec[], childrenOf: (parent: Rec) => Rec[]): ExpectedRow[] =>
  parents.flatMap((parent) => childrenOf(parent).map((record) => ({ record, parentId: parent.id })));

const plain = (records: Rec[]): ExpectedRow[] => records.map((record) => ({ record }));

/** One rule per stream. */
const RULES: Record<string, (world: World) => ExpectedRow[]> = {
  users: (w) => plain(worldRecords(w, 'user')),
  // Nobody in the sandbox organisation has paused interviewing.
  user_interviewer_pauses: () => [],
  departments: (w) => plain(worldRecords(w, 'department')),
  // Offices and regions (`includeLocationHierarchy`), archived ones too.
  locations: (w) => plain(worldRecords(w, 'location')),
  // `namesOnly: false`: id and title.
  hiring_team_roles: (w) =>
    plain(worldRecords(w, 'hiringTeamRole').map((r) => ({ id: r.id, title: r.title }))),
  // Every status; `jobPostingIds` with unpublished postings (`includeUnpublishedJobPostingsIds`).
  jobs: (w) => plain(worldRecords(w, 'job')),
  // Published postings (their job is open), on the primary external board, which shows them all.
  job_postings: (w) =>
    plain(
      worldRecords(w, 'jobPosting').filter(
        (p) => typeof p.jobId === 'string' && w.get(p.jobId, 'job')?.status === 'Open',
      ),
    ),
  job_boards: (w) => plain(worldRecords(w, 'jobBoard')),
  // Active and inactive alike.
  job_templates: (w) => plain(worldRecords(w, 'jobTemplate')),
  openings: (w) => plain(worldRecords(w, 'opening')),
  candidates: (w) => plain(worldRecords(w, 'candidate')),
  candidate_notes: (w) =>
    perParent(worldRecords(w, 'candidate'), (c) => children(w, 'candidate', 'note', c.id)),
  candidate_client_info: (w) =>
    perParent(worldRecords(w, 'candidate'), (c) => children(w, 'candidate', 'clientInfo', c.id)),
  // Fraud Detection is off in the sandbox organisation.
  candidate_fraud_checks: () => [],
  candidate_tags: (w) => plain(worldRecords(w, 'candidateTag')),
  projects: (w) => plain(worldRecords(w, 'project')),
  // Without the stage history a stage change keeps on the record: application.list cannot expand it (its
  // `expand` takes only `openings`), only application.info and application.listHistory give it.
  applications: (w) =>
    plain(
      worldRecords(w, 'application').map((a) => {
        const { applicationHistory: _infoOnly, ...listed } = a;
        return listed as Rec;
      }),
    ),
  application_feedback: (w) => plain(worldRecords(w, 'applicationFeedback')),
  // A history written through the API is the record's own; otherwise the stages it went through.
  application_history: (w) =>
    perParent(worldRecords(w, 'application'), (a) =>
      Array.isArray(a.applicationHistory) ? (a.applicationHistory as Rec[]) : w.historyOf(a),
    ),
  // The same entries, each with its application's id and the seconds from entering to leaving the stage
  // (null while the application is still there), as written out in the stream's description.
  application_stage_history: (w) =>
    perParent(worldRecords(w, 'application'), (a) =>
      (Array.isArray(a.applicationHistory) ? (a.applicationHistory as Rec[]) : w.historyOf(a)).map((e) => ({
        ...e,
        applicationId: a.id,
        durationSeconds:
          typeof e.leftStageAt === 'string'
            ? (new Date(e.leftStageAt).getTime() - new Date(String(e.enteredStageAt)).getTime()) / 1000
            : null,
      })),
    ),
  application_criteria_evaluations: (w) =>
    perParent(worldRecords(w, 'application'), (a) => w.criteriaEvaluationsOf(a.id)),
  application_hiring_team_roles: (w) => plain(worldRecords(w, 'hiringTeamRole')),
  offers: (w) => plain(worldRecords(w, 'offer')),
  approvals: (w) => plain(worldRecords(w, 'approval')),
  interview_schedules: (w) => plain(worldRecords(w, 'interviewSchedule')),
  // A schedule's own events, without the `interview` that only `expand: ["interview"]` adds.
  interview_events: (w) =>
    perParent(worldRecords(w, 'interviewSchedule'), (s) =>
      (Array.isArray(s.interviewEvents) ? (s.interviewEvents as Rec[]) : []).map((e) => {
        const { interview: _expandOnly, ...event } = e;
        return event as Rec;
      }),
    ),
  // Shared and job-specific (`includeNonSharedInterviews`), archived ones too.
  interviews: (w) => plain(worldRecords(w, 'interview')),
  interview_plans: (w) => plain(worldRecords(w, 'interviewPlan')),
  interview_stages: (w) => perParent(worldRecords(w, 'interviewPlan'), (p) => w.stagesOfPlan(p.id)),
  interview_stage_groups: (w) => plain(worldRecords(w, 'interviewStageGroup')),
  // Archived pools and archived training stages (`includeArchivedPools`, `includeArchivedTrainingStages`).
  interviewer_pools: (w) => plain(worldRecords(w, 'interviewerPool')),
  feedback_form_definitions: (w) => plain(worldRecords(w, 'feedbackFormDefinition')),
  survey_form_definitions: (w) => plain(worldRecords(w, 'surveyFormDefinition')),
  // surveyRequest.list supports CandidateExperience only: the requests for forms of that type.
  survey_requests: (w) =>
    plain(
      worldRecords(w, 'surveyRequest').filter((r) => {
        const form =
          typeof r.surveyFormDefinitionId === 'string' ? w.get(r.surveyFormDefinitionId) : undefined;
        return form?.surveyType === 'CandidateExperience';
      }),
    ),
  // Read once per survey type, every type: all of them.
  survey_submissions: (w) => plain(worldRecords(w, 'surveySubmission')),
  sources: (w) => plain(worldRecords(w, 'source')),
  source_tracking_links: (w) => plain(worldRecords(w, 'sourceTrackingLink')),
  archive_reasons: (w) => plain(worldRecords(w, 'archiveReason')),
  custom_fields: (w) => plain(worldRecords(w, 'customField')),
  close_reasons: (w) => plain(worldRecords(w, 'closeReason')),
  brands: (w) => plain(worldRecords(w, 'brand')),
  communication_templates: (w) => plain(worldRecords(w, 'communicationTemplate')),
};

/** Streams the oracle knows. */
export const ORACLE_STREAMS: readonly string[] = Object.keys(RULES);

const byId = (a: ExpectedRow, b: ExpectedRow) => String(a.record.id).localeCompare(String(b.record.id));

/** The rows of a stream (record and parent), one per id (the last parent wins), sorted by id. */
export function expectedRows(world: World, stream: string): ExpectedRow[] {
  const rule = RULES[stream];
  if (!rule) throw new Error(`the world oracle has no rule for stream ${stream}`);
  const unique = new Map<string, ExpectedRow>();
  for (const row of rule(world)) unique.set(String(row.record.id), row);
  // Records are compared as JSON, as the sinks store them.
  return [...unique.values()]
    .map((row) => ({ ...row, record: JSON.parse(JSON.stringify(row.record)) as Rec }))
    .sort(byId);
}

/** The records of a stream a full sync must store, sorted by id. */
export function expectedStreamRecords(sandbox: Sandbox | World, stream: string): Rec[] {
  const world = 'world' in sandbox ? sandbox.world : sandbox;
  return expectedRows(world, stream).map((r) => r.record);
}

/**
 * Where each stream keeps its custom field values and under which object type: written out from the
 * spec (offers and openings on the latest version, projects in `customFieldEntries`), not read from the
 * stream definitions under test.
 */
export const CUSTOM_FIELD_LOCATIONS: Record<string, { objectType: string; path: readonly string[] }> = {
  users: { objectType: 'Employee', path: ['customFields'] },
  jobs: { objectType: 'Job', path: ['customFields'] },
  openings: { objectType: 'Opening', path: ['latestVersion', 'customFields'] },
  candidates: { objectType: 'Candidate', path: ['customFields'] },
  projects: { objectType: 'Talent_Project', path: ['customFieldEntries'] },
  applications: { objectType: 'Application', path: ['customFields'] },
  offers: { objectType: 'Offer', path: ['latestVersion', 'customFields'] },
};

/** A row of `custom_field_values`. */
export interface CustomFieldValueRow {
  object_type: string;
  object_id: string;
  field_id: string;
  title: string | null;
  value: unknown;
}

/**
 * The `custom_field_values` rows of the records of `stream`: one per entry with a string id, the last of
 * a repeated id winning, the title when it is a string, the value (null when absent).
 */
export function expectedCustomFieldValues(
  records: readonly Record<string, unknown>[],
  stream: string,
): CustomFieldValueRow[] {
  const location = CUSTOM_FIELD_LOCATIONS[stream];
  if (!location) return [];
  const out: CustomFieldValueRow[] = [];
  for (const record of records) {
    let list: unknown = record;
    for (const key of location.path) list = (list as Record<string, unknown> | undefined)?.[key];
    if (!Array.isArray(list)) continue;
    const byField = new Map<string, CustomFieldValueRow>();
    for (const entry of list as unknown[]) {
      if (typeof entry !== 'object' || entry === null) continue;
      const e = entry as Rec;
      if (typeof e.id !== 'string' || e.id === '') continue;
      byField.delete(e.id);
      byField.set(e.id, {
        object_type: location.objectType,
        object_id: String(record.id),
        field_id: e.id,
        title: typeof e.title === 'string' ? e.title : null,
        value: e.value === undefined ? null : e.value,
      });
    }
    out.push(...byField.values());
  }
  return out;
}

/** Orders custom field value rows for comparison. */
export function byObjectAndField(a: CustomFieldValueRow, b: CustomFieldValueRow): number {
  return (
    a.object_type.localeCompare(b.object_type) ||
    a.object_id.localeCompare(b.object_id) ||
    a.field_id.localeCompare(b.field_id)
  );
}
