/**
 * Every filter the official spec documents for a list endpoint the sandbox serves is honoured: one row
 * per (endpoint, request property), read from the spec file, each sending the parameter and comparing the
 * answer with what the sandbox's world holds, computed here by hand from the world (never through a list
 * handler). Each row also shows the parameter makes a difference, so a filter the sandbox ignored (and a
 * test that computed its expectation through the same handler) cannot pass. The 2026 spec's additional
 * filters that the sandbox serves are listed at the end (that spec is not in the repository).
 *
 * The streams' own requests are checked against the same spec: a stream that should include archived,
 * inactive or deactivated records sends every `include…` parameter its endpoint documents.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMPLEMENTED_ENDPOINTS, type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import type { Rec, World } from '../../src/sandbox/world.js';
import { STREAMS } from '../../src/streams/index.js';
import { loadSpec } from '../support/openapi.js';
import { worldRecords } from '../support/world-oracle.js';
import { call } from './helpers.js';

const spec = loadSpec();

type Json = Record<string, unknown>;

/** The request properties of a list endpoint in the spec (through `$ref`, `allOf`, `oneOf`, `anyOf`). */
function requestProperties(doc: Json, endpoint: string): string[] {
  const resolve = (ref: string): unknown =>
    ref
      .slice(2)
      .split('/')
      .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))
      .reduce<unknown>((node, key) => (node as Json | undefined)?.[key], doc);
  const out = new Set<string>();
  const walk = (schema: unknown, seen: Set<string>): void => {
    if (typeof schema !== 'object' || schema === null) return;
    const s = schema as Json;
    if (typeof s.$ref === 'string' && !seen.has(s.$ref)) walk(resolve(s.$ref), new Set([...seen, s.$ref]));
    for (const key of Object.keys((s.properties as Json | undefined) ?? {})) out.add(key);
    for (const k of ['allOf', 'oneOf', 'anyOf']) for (const sub of (s[k] as unknown[]) ?? []) walk(sub, seen);
  };
  const paths = doc.paths as Record<string, { post?: { requestBody?: { content?: Json } } }>;
  const schema = (paths[`/${endpoint}`]?.post?.requestBody?.content?.['application/json'] as Json | undefined)
    ?.schema;
  walk(schema, new Set());
  return [...out].sort();
}

/** Pagination is not a filter: it is tested on its own (test/sandbox/pagination.test.ts). */
const PAGINATION = new Set(['cursor', 'limit', 'syncToken']);

/** One request and what its answer must be, computed from the world. */
interface Probe {
  body: Json;
  /** The answer's records, as `project` shows them, or the code of the error it must be. */
  want: unknown[] | { error: string };
}

/** A row of the table: requests with and without (or with other values of) the parameter. */
interface FilterCase {
  probes: (w: World) => Probe[];
  /** What of each returned record is compared (its id unless said otherwise). */
  project?: (rec: unknown) => unknown;
}

const ids = (recs: readonly Rec[]) => recs.map((r) => r.id);
const ms = (iso: unknown) => Date.parse(String(iso));
/** A time in the middle of the values of `field`: a filter on it cuts the records in two. */
function middle(recs: readonly Rec[], field: string): number {
  const times = recs
    .map((r) => ms(r[field]))
    .filter((t) => !Number.isNaN(t))
    .sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? 0;
}
const live = (recs: Rec[]) => recs.filter((r) => r.isArchived !== true);
const jobOf = (w: World, id: unknown) => (typeof id === 'string' ? w.get(id, 'job') : undefined);
const publishedPostings = (w: World) =>
  worldRecords(w, 'jobPosting').filter((p) => jobOf(w, p.jobId)?.status === 'Open');
const formType = (w: World, id: unknown) => (typeof id === 'string' ? w.get(id)?.surveyType : undefined);

/** Two values of a required parent parameter, with the children the world holds for each. */
function parents(
  param: string,
  parentIds: string[],
  childrenOf: (id: string) => unknown[],
  extra: Json = {},
): Probe[] {
  return parentIds.slice(0, 2).map((id) => ({ body: { ...extra, [param]: id }, want: childrenOf(id) }));
}

const CASES: Record<string, FilterCase> = {
  'application.list createdAfter': {
    probes: (w) => {
      const apps = worldRecords(w, 'application');
      const t = middle(apps, 'createdAt');
      return [
        { body: {}, want: ids(apps) },
        { body: { createdAfter: t }, want: ids(apps.filter((a) => ms(a.createdAt) > t)) },
      ];
    },
  },
  'application.list expand': {
    probes: (w) => {
      const apps = worldRecords(w, 'application');
      const openings = worldRecords(w, 'opening');
      const openingsOf = (a: Rec) =>
        openings
          .filter((o) => ((o.latestVersion as Rec).jobIds as string[]).includes(String((a.job as Rec).id)))
          .map((o) => o.id);
      return [
        { body: {}, want: apps.map(() => null) },
        { body: { expand: ['openings'] }, want: apps.map(openingsOf) },
      ];
    },
    project: (r) => ((r as Rec).openings as Rec[] | undefined)?.map((o) => o.id) ?? null,
  },
  'application.list status': {
    probes: (w) => {
      const apps = worldRecords(w, 'application');
      return ['Hired', 'Archived', 'Lead'].map((status) => ({
        body: { status },
        want: ids(apps.filter((a) => a.status === status)),
      }));
    },
  },
  'application.list jobId': {
    probes: (w) => {
      const apps = worldRecords(w, 'application');
      const jobs = [...new Set(apps.map((a) => String((a.job as Rec).id)))].slice(0, 2);
      return jobs.map((jobId) => ({
        body: { jobId },
        want: ids(apps.filter((a) => (a.job as Rec).id === jobId)),
      }));
    },
  },
  'applicationFeedback.list createdAfter': {
    probes: (w) => {
      const all = worldRecords(w, 'applicationFeedback');
      const t = middle(all, 'submittedAt');
      return [
        { body: {}, want: ids(all) },
        { body: { createdAfter: t }, want: ids(all.filter((f) => ms(f.submittedAt) > t)) },
      ];
    },
  },
  'applicationFeedback.list applicationId': {
    probes: (w) => {
      const all = worldRecords(w, 'applicationFeedback');
      const apps = [...new Set(all.map((f) => String(f.applicationId)))].slice(0, 2);
      return apps.map((applicationId) => ({
        body: { applicationId },
        want: ids(all.filter((f) => f.applicationId === applicationId)),
      }));
    },
  },
  'archiveReason.list includeArchived': includeArchivedCase('archiveReason'),
  'candidate.listNotes candidateId': {
    probes: (w) => {
      const notes = worldRecords(w, 'note');
      // Seeded notes are spread over the candidates in order (parentOf); candidates 0 and 1 differ.
      const candidates = worldRecords(w, 'candidate').slice(0, 2);
      return parents('candidateId', ids(candidates), (id) => {
        const i = w.indexOf(id, 'candidate') ?? -1;
        const n = w.seeded('candidate');
        return ids(
          notes.filter((note) => Math.floor(((w.indexOf(note.id, 'note') ?? 0) * n) / notes.length) === i),
        );
      });
    },
  },
  'candidateTag.list includeArchived': includeArchivedCase('candidateTag'),
  'customField.list includeArchived': includeArchivedCase('customField'),
  'department.list includeArchived': includeArchivedCase('department'),
  'feedbackFormDefinition.list includeArchived': includeArchivedCase('feedbackFormDefinition'),
  'hiringTeamRole.list namesOnly': {
    probes: (w) => {
      const roles = worldRecords(w, 'hiringTeamRole');
      return [
        { body: {}, want: roles.map((r) => r.title) },
        { body: { namesOnly: true }, want: roles.map((r) => r.title) },
        { body: { namesOnly: false }, want: roles.map((r) => ({ id: r.id, title: r.title })) },
      ];
    },
    project: (r) => r,
  },
  'interview.list includeArchived': {
    probes: (w) => {
      const all = worldRecords(w, 'interview');
      return [
        { body: { includeNonSharedInterviews: true }, want: ids(live(all)) },
        { body: { includeNonSharedInterviews: true, includeArchived: true }, want: ids(all) },
      ];
    },
  },
  'interview.list includeNonSharedInterviews': {
    probes: (w) => {
      const all = worldRecords(w, 'interview');
      return [
        { body: { includeArchived: true }, want: ids(all.filter((i) => i.jobId === undefined)) },
        { body: { includeArchived: true, includeNonSharedInterviews: true }, want: ids(all) },
      ];
    },
  },
  'interviewEvent.list interviewScheduleId': {
    probes: (w) =>
      parents('interviewScheduleId', ids(worldRecords(w, 'interviewSchedule')), (id) =>
        ids((w.get(id)?.interviewEvents as Rec[]) ?? []),
      ),
  },
  'interviewEvent.list expand': {
    probes: (w) => {
      const schedule = worldRecords(w, 'interviewSchedule')[0] as Rec;
      const events = schedule.interviewEvents as Rec[];
      return [
        { body: { interviewScheduleId: schedule.id }, want: events.map(() => null) },
        {
          body: { interviewScheduleId: schedule.id, expand: ['interview'] },
          want: events.map((e) => (e.interview as Rec).id),
        },
      ];
    },
    project: (r) => ((r as Rec).interview as Rec | undefined)?.id ?? null,
  },
  'interviewPlan.list includeArchived': includeArchivedCase('interviewPlan'),
  'interviewSchedule.list createdAfter': {
    probes: (w) => {
      const all = worldRecords(w, 'interviewSchedule');
      const t = middle(all, 'createdAt');
      return [
        { body: {}, want: ids(all) },
        { body: { createdAfter: t }, want: ids(all.filter((s) => ms(s.createdAt) > t)) },
      ];
    },
  },
  'interviewSchedule.list applicationId': {
    probes: (w) => {
      const all = worldRecords(w, 'interviewSchedule');
      const apps = [...new Set(all.map((s) => String(s.applicationId)))].slice(0, 2);
      return apps.map((applicationId) => ({
        body: { applicationId },
        want: ids(all.filter((s) => s.applicationId === applicationId)),
      }));
    },
  },
  'interviewSchedule.list interviewStageId': {
    probes: (w) => {
      const all = worldRecords(w, 'interviewSchedule');
      const stages = [...new Set(all.map((s) => String(s.interviewStageId)))].slice(0, 2);
      return stages.map((interviewStageId) => ({
        body: { interviewStageId },
        want: ids(all.filter((s) => s.interviewStageId === interviewStageId)),
      }));
    },
  },
  'interviewStage.list interviewPlanId': {
    probes: (w) =>
      parents('interviewPlanId', ids(worldRecords(w, 'interviewPlan')), (planId) =>
        // Every plan has the same stage titles; its stages are its own.
        ids(w.stagesOfPlan(planId)),
      ),
  },
  'interviewerPool.list includeArchivedPools': {
    probes: (w) => {
      const all = worldRecords(w, 'interviewerPool');
      return [
        { body: {}, want: ids(live(all)) },
        { body: { includeArchivedPools: true }, want: ids(all) },
        // The parameter of other lists means nothing here.
        { body: { includeArchived: true }, want: ids(live(all)) },
      ];
    },
  },
  'interviewerPool.list includeArchivedTrainingStages': {
    probes: (w) => {
      const all = live(worldRecords(w, 'interviewerPool'));
      const stages = (p: Rec, archived: boolean) =>
        ((p.trainingPath as Rec).trainingStages as Rec[])
          .filter((s) => archived || s.isArchived !== true)
          .map((s) => s.id);
      return [
        { body: {}, want: all.map((p) => stages(p, false)) },
        { body: { includeArchivedTrainingStages: true }, want: all.map((p) => stages(p, true)) },
      ];
    },
    project: (r) => (((r as Rec).trainingPath as Rec).trainingStages as Rec[]).map((s) => s.id),
  },
  'job.list status': {
    probes: (w) => {
      const jobs = worldRecords(w, 'job');
      return [
        // Draft jobs only when asked for.
        { body: {}, want: ids(jobs.filter((j) => j.status !== 'Draft')) },
        { body: { status: ['Draft'] }, want: ids(jobs.filter((j) => j.status === 'Draft')) },
        {
          body: { status: ['Open', 'Closed'] },
          want: ids(jobs.filter((j) => j.status === 'Open' || j.status === 'Closed')),
        },
      ];
    },
  },
  'job.list openedAfter': jobTimeCase('openedAt', 'openedAfter', true),
  'job.list openedBefore': jobTimeCase('openedAt', 'openedBefore', false),
  'job.list closedAfter': jobTimeCase('closedAt', 'closedAfter', true),
  'job.list closedBefore': jobTimeCase('closedAt', 'closedBefore', false),
  'job.list includeUnpublishedJobPostingsIds': {
    probes: (w) => {
      const jobs = worldRecords(w, 'job').filter((j) => j.status !== 'Draft');
      return [
        // A posting is published while its job is open.
        { body: {}, want: jobs.map((j) => (j.status === 'Open' ? j.jobPostingIds : [])) },
        { body: { includeUnpublishedJobPostingsIds: true }, want: jobs.map((j) => j.jobPostingIds) },
      ];
    },
    project: (r) => (r as Rec).jobPostingIds,
  },
  'job.list expand': {
    probes: (w) => {
      const jobs = worldRecords(w, 'job').filter((j) => j.status !== 'Draft');
      return [
        { body: {}, want: jobs.map(() => null) },
        { body: { expand: ['location'] }, want: jobs.map((j) => j.locationId) },
      ];
    },
    project: (r) => ((r as Rec).location as Rec | undefined)?.id ?? null,
  },
  'jobPosting.list location': {
    probes: (w) => {
      const postings = publishedPostings(w);
      const names = [...new Set(postings.map((p) => String(p.locationName)))].slice(0, 2);
      return names.map((location) => ({
        body: { location },
        want: ids(postings.filter((p) => p.locationName === location)),
      }));
    },
  },
  'jobPosting.list department': {
    probes: (w) => {
      const postings = publishedPostings(w);
      const names = [...new Set(postings.map((p) => String(p.departmentName)))].slice(0, 2);
      return names.map((department) => ({
        body: { department },
        want: ids(postings.filter((p) => p.departmentName === department)),
      }));
    },
  },
  'jobPosting.list listedOnly': {
    probes: (w) => {
      const postings = publishedPostings(w);
      return [
        { body: {}, want: ids(postings) },
        { body: { listedOnly: true }, want: ids(postings.filter((p) => p.isListed === true)) },
      ];
    },
  },
  'jobPosting.list jobBoardId': {
    probes: (w) => {
      const postings = publishedPostings(w);
      const [external, internal] = worldRecords(w, 'jobBoard');
      return [
        { body: { jobBoardId: external?.id }, want: ids(postings) },
        // The internal board shows every third posting.
        {
          body: { jobBoardId: internal?.id },
          want: ids(postings.filter((p) => (w.indexOf(p.id, 'jobPosting') ?? 1) % 3 === 0)),
        },
      ];
    },
  },
  'location.list includeArchived': {
    probes: (w) => {
      const offices = worldRecords(w, 'location').filter((l) => l.type === 'Location');
      return [
        { body: {}, want: ids(live(offices)) },
        { body: { includeArchived: true }, want: ids(offices) },
      ];
    },
  },
  'location.list includeLocationHierarchy': {
    probes: (w) => {
      const all = worldRecords(w, 'location');
      return [
        { body: { includeArchived: true }, want: ids(all.filter((l) => l.type === 'Location')) },
        { body: { includeArchived: true, includeLocationHierarchy: true }, want: ids(all) },
      ];
    },
  },
  'offer.list applicationId': {
    probes: (w) => {
      const offers = worldRecords(w, 'offer');
      return offers.slice(0, 2).map((o) => ({
        body: { applicationId: o.applicationId },
        want: ids(offers.filter((x) => x.applicationId === o.applicationId)),
      }));
    },
  },
  'source.list includeArchived': includeArchivedCase('source'),
  'sourceTrackingLink.list includeDisabled': {
    probes: (w) => {
      const all = worldRecords(w, 'sourceTrackingLink');
      return [
        { body: {}, want: ids(all.filter((l) => l.enabled !== false)) },
        { body: { includeDisabled: true }, want: ids(all) },
      ];
    },
  },
  'surveyRequest.list surveyType': {
    probes: (w) => {
      const all = worldRecords(w, 'surveyRequest');
      return [
        {
          body: { surveyType: 'CandidateExperience' },
          want: ids(all.filter((r) => formType(w, r.surveyFormDefinitionId) === 'CandidateExperience')),
        },
        // Not a type the endpoint supports (2026 spec): an error, not every request.
        { body: { surveyType: 'EEOC' }, want: { error: 'invalid_input' } },
      ];
    },
  },
  'surveyRequest.list applicationId': surveyRequestCase('applicationId'),
  'surveyRequest.list candidateId': surveyRequestCase('candidateId'),
  'surveySubmission.list surveyType': {
    probes: (w) => {
      const all = worldRecords(w, 'surveySubmission');
      return ['CandidateExperience', 'EEOC'].map((surveyType) => ({
        body: { surveyType },
        want: ids(all.filter((s) => s.surveyType === surveyType)),
      }));
    },
  },
  'user.list includeDeactivated': {
    probes: (w) => {
      const all = worldRecords(w, 'user');
      return [
        { body: {}, want: ids(all.filter((u) => u.isEnabled !== false)) },
        { body: { includeDeactivated: true }, want: ids(all) },
      ];
    },
  },
};

/** Filters of the 2026 spec the sandbox serves beyond the 2024 spec's (that spec is not in the repository). */
const CASES_2026: Record<string, FilterCase> = {
  'offer.list offerStatus': offerStatusCase('offerStatus', (o) => o.offerStatus, [
    'CandidateAccepted',
    'WaitingOnApprovalStart',
  ]),
  'offer.list acceptanceStatus': offerStatusCase('acceptanceStatus', (o) => o.acceptanceStatus, [
    'Accepted',
    'Created',
  ]),
  'offer.list approvalStatus': offerStatusCase(
    'approvalStatus',
    (o) => (o.latestVersion as Rec).approvalStatus,
    ['Approved', 'WaitingOnApprovals'],
  ),
  'approval.list entityType': {
    probes: (w) => {
      const all = worldRecords(w, 'approval');
      return [
        { body: { entityType: 'offer' }, want: ids(all.filter((a) => a.entityType === 'offer')) },
        { body: { entityType: 'job' }, want: ids(all.filter((a) => a.entityType === 'job')) },
      ];
    },
  },
  'approval.list entityId': {
    probes: (w) => {
      const all = worldRecords(w, 'approval');
      return all.slice(0, 2).map((a) => ({ body: { entityId: a.entityId }, want: [a.id] }));
    },
  },
  'jobTemplate.list expand': {
    probes: (w) => {
      const all = worldRecords(w, 'jobTemplate');
      return [
        { body: {}, want: all.map(() => null) },
        { body: { expand: ['location'] }, want: all.map((t) => t.locationId) },
      ];
    },
    project: (r) => ((r as Rec).location as Rec | undefined)?.id ?? null,
  },
  'closeReason.list includeArchived': includeArchivedCase('closeReason'),
  'job.list createdAfter': {
    probes: (w) => {
      const jobs = worldRecords(w, 'job').filter((j) => j.status !== 'Draft');
      const t = middle(jobs, 'createdAt');
      return [
        { body: {}, want: ids(jobs) },
        { body: { createdAfter: t }, want: ids(jobs.filter((j) => ms(j.createdAt) > t)) },
      ];
    },
  },
  'project.list createdAfter': {
    probes: (w) => {
      const all = worldRecords(w, 'project');
      const t = middle(all, 'createdAt');
      return [
        { body: {}, want: ids(all) },
        { body: { createdAfter: t }, want: ids(all.filter((p) => ms(p.createdAt) > t)) },
      ];
    },
  },
  'surveySubmission.list createdAfter': {
    probes: (w) => {
      const all = worldRecords(w, 'surveySubmission').filter((s) => s.surveyType === 'CandidateExperience');
      const t = middle(all, 'submittedAt');
      return [
        { body: { surveyType: 'CandidateExperience' }, want: ids(all) },
        {
          body: { surveyType: 'CandidateExperience', createdAfter: t },
          want: ids(all.filter((s) => ms(s.submittedAt) > t)),
        },
      ];
    },
  },
};

function includeArchivedCase(kind: Parameters<World['size']>[0]): FilterCase {
  return {
    probes: (w) => {
      const all = worldRecords(w, kind);
      return [
        { body: {}, want: ids(live(all)) },
        { body: { includeArchived: false }, want: ids(live(all)) },
        { body: { includeArchived: true }, want: ids(all) },
      ];
    },
  };
}

function jobTimeCase(field: string, param: string, after: boolean): FilterCase {
  return {
    probes: (w) => {
      const status = ['Draft', 'Open', 'Closed', 'Archived'];
      const jobs = worldRecords(w, 'job');
      const t = middle(jobs, field);
      // A job without the time (never opened, not closed) is left out by a filter on it.
      const keep = (j: Rec) => !Number.isNaN(ms(j[field])) && (after ? ms(j[field]) > t : ms(j[field]) < t);
      return [
        { body: { status }, want: ids(jobs) },
        { body: { status, [param]: t }, want: ids(jobs.filter(keep)) },
      ];
    },
  };
}

function surveyRequestCase(param: 'applicationId' | 'candidateId'): FilterCase {
  return {
    probes: (w) => {
      const all = worldRecords(w, 'surveyRequest').filter(
        (r) => formType(w, r.surveyFormDefinitionId) === 'CandidateExperience',
      );
      const values = [...new Set(all.map((r) => String(r[param])))].slice(0, 2);
      return values.map((value) => ({
        body: { surveyType: 'CandidateExperience', [param]: value },
        want: ids(all.filter((r) => r[param] === value)),
      }));
    },
  };
}

function offerStatusCase(param: string, statusOf: (offer: Rec) => unknown, values: string[]): FilterCase {
  return {
    probes: (w) => {
      const all = worldRecords(w, 'offer');
      return [
        { body: {}, want: ids(all) },
        ...values.map((v) => ({ body: { [param]: [v] }, want: ids(all.filter((o) => statusOf(o) === v)) })),
        { body: { [param]: [] }, want: { error: 'invalid_input' } },
      ];
    },
  };
}

/** Required parameters of some lists, sent with every probe. */
const REQUIRED: Record<string, Json> = {
  'surveySubmission.list': { surveyType: 'CandidateExperience' },
};

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ scale: 300, seed: 4 });
  // An offer still waiting for approval, next to the seeded accepted ones.
  const app = worldRecords(sandbox.world, 'application').find((a) => a.status === 'Active') as Rec;
  const process = await call(sandbox, 'offerProcess.start', { applicationId: app.id });
  const processId = (process.body.results as Rec).id;
  const form = await call(sandbox, 'offer.start', { offerProcessId: processId });
  const created = await call(sandbox, 'offer.create', {
    offerProcessId: processId,
    offerFormId: (form.body.results as Rec).id,
    offerForm: {
      fieldSubmissions: [
        { path: 'salary', value: { currencyCode: 'EUR', value: 90000 } },
        { path: 'startDate', value: '2030-02-01' },
        { path: 'employmentType', value: 'FullTime' },
      ],
    },
  });
  expect(created.body.success, JSON.stringify(created.body)).toBe(true);
});
afterAll(() => sandbox?.close());

/** Every page of the answer, over HTTP; an error answer as its code. */
async function answer(endpoint: string, body: Json): Promise<unknown[] | { error: string }> {
  const out: unknown[] = [];
  let cursor: unknown;
  for (;;) {
    const page = await call(sandbox, endpoint, cursor === undefined ? body : { ...body, cursor });
    if (page.body.success !== true) return { error: String((page.body.errorInfo as Json | undefined)?.code) };
    out.push(...(page.body.results as unknown[]));
    if (page.body.moreDataAvailable !== true) return out;
    cursor = page.body.nextCursor;
  }
}

async function check(name: string, row: FilterCase): Promise<void> {
  const [endpoint = ''] = name.split(' ');
  const probes = row.probes(sandbox.world);
  expect(probes.length, name).toBeGreaterThanOrEqual(2);
  const project = row.project ?? ((r: unknown) => (r as Rec).id);
  for (const probe of probes) {
    const got = await answer(endpoint, { ...REQUIRED[endpoint], ...probe.body });
    const shown = Array.isArray(got) ? got.map(project) : got;
    expect({ body: probe.body, got: shown }, name).toEqual({ body: probe.body, got: probe.want });
  }
  // The parameter makes a difference: not every probe expects the same answer.
  const distinct = new Set(probes.map((p) => JSON.stringify(p.want)));
  expect(distinct.size, `${name}: the world gives this filter nothing to cut`).toBeGreaterThan(1);
}

describe.skipIf(!spec.available)('every filter the spec documents for a list the sandbox serves', () => {
  const doc = spec.available ? (JSON.parse(readFileSync(spec.specPath, 'utf8')) as Json) : {};
  const lists = Object.keys((doc.paths as Json | undefined) ?? {})
    .map((p) => p.slice(1))
    .filter((e) => /\.list/.test(e) && IMPLEMENTED_ENDPOINTS.includes(e));
  const documented = lists.flatMap((e) =>
    requestProperties(doc, e)
      .filter((p) => !PAGINATION.has(p))
      .map((p) => `${e} ${p}`),
  );

  it('has a row for each documented filter', () => {
    expect(documented.length).toBeGreaterThan(40);
    expect(documented.filter((d) => !(d in CASES))).toEqual([]);
    // …and no row for a filter the spec does not document.
    expect(Object.keys(CASES).filter((c) => !documented.includes(c))).toEqual([]);
  });

  it.each(Object.entries(CASES))('%s', async (name, row) => {
    await check(name, row);
  });

  it.each(Object.entries(CASES_2026))('%s (2026 spec)', async (name, row) => {
    await check(name, row);
  });

  it('rejects a parameter of the wrong type with an error naming it', async () => {
    for (const [endpoint, param] of [
      ['archiveReason.list', 'includeArchived'],
      ['interviewerPool.list', 'includeArchivedPools'],
      ['location.list', 'includeLocationHierarchy'],
      ['user.list', 'includeDeactivated'],
      ['jobPosting.list', 'listedOnly'],
    ] as const) {
      const a = await call(sandbox, endpoint, { [param]: 'yes' });
      expect(a.body.success, endpoint).toBe(false);
      expect((a.body.errorInfo as Json).code).toBe('invalid_input');
      expect(String((a.body.errorInfo as Json).message)).toContain(`"${param}"`);
    }
  });
});

describe.skipIf(!spec.available)("the streams' requests", () => {
  const doc = spec.available ? (JSON.parse(readFileSync(spec.specPath, 'utf8')) as Json) : {};

  it('send every include… parameter the spec documents for their endpoint, set to true', () => {
    const missing: string[] = [];
    let checked = 0;
    for (const stream of STREAMS) {
      const body = stream.body?.({ includeArchived: true }) ?? {};
      for (const param of requestProperties(doc, stream.endpoint).filter((p) => p.startsWith('include'))) {
        checked++;
        if (body[param] !== true) missing.push(`${stream.name}: ${param}`);
      }
    }
    expect(checked).toBeGreaterThan(12);
    expect(missing).toEqual([]);
  });
});
