/**
 * Jobs, job postings, job boards, job templates and openings.
 *
 * A job posting is published while its job is open, and `jobPosting.list` lists published postings only;
 * `job.list` lists a job's unpublished posting ids only with `includeUnpublishedJobPostingsIds`. Every
 * published posting is on the primary external board (board 0); every third is on the internal board too,
 * where it has no external link and applies internally (2026 spec: `jobBoardId`, `externalLink`).
 */
import type { Handlers, RequestContext } from '../context.js';
import { invalidInput, notFound } from '../errors.js';
import { hiringTeam, userSummary } from '../generators/organization.js';
import { visible } from '../world/confidential.js';
import { openingsOfJob } from '../world/relations.js';
import type { Rec } from '../world/store.js';
import { createdAfter, flag, listHandler } from './lists.js';
import {
  all,
  epochFilter,
  existing,
  expandList,
  infoOf,
  now,
  optExisting,
  requiredId,
  textFilter,
  uuidAt,
} from './shared.js';
import {
  optArray,
  optBoolean,
  optDate,
  optEnum,
  optString,
  optUuid,
  reqEnum,
  reqString,
  reqUuid,
} from './validate.js';

const JOB_STATUSES = ['Draft', 'Open', 'Closed', 'Archived'] as const;
const EMPLOYMENT_TYPES = ['FullTime', 'PartTime', 'Intern', 'Contract', 'Temporary', ''] as const;
const OPENING_STATES = ['Draft', 'Approved', 'Open', 'Closed'] as const;
/** job.setStatus transitions (SPEC-2024 description). */
const JOB_TRANSITIONS: Record<string, readonly string[]> = {
  Draft: ['Open', 'Archived'],
  Open: ['Closed'],
  Closed: ['Draft', 'Archived'],
  Archived: ['Draft'],
};

/** Draft jobs are excluded unless `status` includes `Draft` (API-NOTES §4). */
function jobStatusFilter(rec: Rec, ctx: RequestContext): boolean {
  const status = ctx.body.status;
  if (status === undefined || status === null) return rec.status !== 'Draft';
  const list = Array.isArray(status) ? status : [status];
  for (const s of list) {
    if (typeof s !== 'string' || !(JOB_STATUSES as readonly string[]).includes(s)) {
      throw invalidInput(`"status" must contain only ${JOB_STATUSES.join(', ')}`);
    }
  }
  return list.includes(rec.status);
}

/** The job's openings for `expand: ["openings"]`, as the key may see them. */
export function openingsFor(ctx: RequestContext, jobId: unknown): Rec[] {
  if (typeof jobId !== 'string') return [];
  return openingsOfJob(ctx.world, jobId).filter((o) => visible(ctx.world, ctx.key, 'opening', o));
}

/** Adds the job's openings to a record when the request asks for `expand: ["openings"]`. */
export function withOpenings(jobIdOf: (rec: Rec) => unknown) {
  return (rec: Rec, ctx: RequestContext): Rec =>
    expandList(ctx).includes('openings') ? { ...rec, openings: openingsFor(ctx, jobIdOf(rec)) } : rec;
}

/** A job posting is published while its job is open. */
function isPublished(ctx: RequestContext, posting: Rec): boolean {
  return typeof posting.jobId === 'string' && ctx.world.get(posting.jobId, 'job')?.status === 'Open';
}

/** The board of a `jobPosting.list` request: the primary external board (board 0) unless named. */
function jobBoardOf(ctx: RequestContext): Rec {
  const id = ctx.body.jobBoardId;
  if (id === undefined || id === null) {
    const primary = ctx.world.get(ctx.world.id('jobBoard', 0), 'jobBoard');
    if (!primary) throw notFound('job_board');
    return primary;
  }
  if (typeof id !== 'string') throw invalidInput('"jobBoardId" must be a string');
  const board = ctx.world.get(id, 'jobBoard');
  if (!board) throw notFound('job_board');
  return board;
}

/** Every published posting is on the external board; every third is on the internal board too. */
function onBoard(board: Rec, posting: Rec, ctx: RequestContext): boolean {
  if (board.isInternal !== true) return true;
  return (ctx.world.indexOf(posting.id, 'jobPosting') ?? 1) % 3 === 0;
}

/** A posting as one board shows it: an internal board has no external link and applies internally. */
function postingOnBoard(board: Rec, posting: Rec): Rec {
  if (board.isInternal !== true) return posting;
  const { externalLink: _external, ...rest } = posting;
  return { ...rest, applyLink: `https://app.ashbyhq.com/internal-jobs/${posting.id}/application` };
}

/** `jobPostingIds` lists published postings only, unless `includeUnpublishedJobPostingsIds`. */
function postingIdsFor(job: Rec, ctx: RequestContext): Rec {
  if (flag(ctx, 'includeUnpublishedJobPostingsIds') === true || !Array.isArray(job.jobPostingIds)) return job;
  const published = (job.jobPostingIds as unknown[]).filter((id) => {
    const posting = typeof id === 'string' ? ctx.world.get(id, 'jobPosting') : undefined;
    return posting !== undefined && isPublished(ctx, posting);
  });
  return { ...job, jobPostingIds: published };
}

function versionOf(opening: Rec): Rec {
  return (opening.latestVersion as Rec | undefined) ?? ({ id: '', jobIds: [] } as Rec);
}

function jobIdsOf(opening: Rec): string[] {
  const ids = versionOf(opening).jobIds;
  return Array.isArray(ids) ? ids.filter((j): j is string => typeof j === 'string') : [];
}

function updateVersion(ctx: RequestContext, opening: Rec, patch: Record<string, unknown>): Rec {
  const rec = ctx.world.update(opening.id, { latestVersion: { ...versionOf(opening), ...patch } });
  if (!rec) throw notFound('opening');
  return rec;
}

export const jobHandlers: Handlers = {
  'job.list': listHandler({
    kind: 'job',
    filter: all(
      jobStatusFilter,
      // The 2026 request of job.list (as of every list sharing opening.list's) takes createdAfter.
      createdAfter,
      epochFilter('openedAt', 'openedAfter', true),
      epochFilter('openedAt', 'openedBefore', false),
      epochFilter('closedAt', 'closedAfter', true),
      epochFilter('closedAt', 'closedBefore', false),
    ),
    map: (rec, ctx) => {
      const out = withOpenings((job) => job.id)(postingIdsFor(rec, ctx), ctx);
      if (expandList(ctx).includes('location') && typeof rec.locationId === 'string') {
        const loc = ctx.world.get(rec.locationId, 'location');
        if (loc) return { ...out, location: loc };
      }
      return out;
    },
  }),
  'job.info': (ctx) => {
    const job = postingIdsFor(infoOf(ctx, 'job', requiredId(ctx, 'id')), ctx);
    const expand = Array.isArray(ctx.body.expand) ? ctx.body.expand : [];
    const out: Rec = { ...job };
    if (expand.includes('location') && typeof job.locationId === 'string') {
      const loc = ctx.world.get(job.locationId, 'location');
      if (loc) out.location = loc;
    }
    if (expand.includes('openings')) out.openings = openingsFor(ctx, job.id);
    return { results: out };
  },
  'job.search': (ctx) => {
    const title = ctx.body.title;
    if (typeof title !== 'string') throw invalidInput('Missing required field "title"');
    const needle = title.toLowerCase();
    return {
      results: ctx.world
        .allOf('job')
        .filter(
          (j) => String(j.title).toLowerCase().includes(needle) && visible(ctx.world, ctx.key, 'job', j),
        )
        .slice(0, 100),
    };
  },
  'job.create': (ctx) => {
    const title = reqString(ctx.body, 'title');
    const team = existing(ctx, 'department', reqUuid(ctx.body, 'teamId'), 'teamId');
    const location = existing(ctx, 'location', reqUuid(ctx.body, 'locationId'), 'locationId');
    const plan = optExisting(ctx, 'interviewPlan', 'defaultInterviewPlanId');
    const template = optExisting(ctx, 'jobTemplate', 'jobTemplateId');
    const planId =
      plan?.id ??
      (typeof template?.defaultInterviewPlanId === 'string'
        ? template.defaultInterviewPlanId
        : ctx.world.id('interviewPlan', 0));
    const rec = ctx.world.create('job', (id, index) => ({
      id,
      title,
      confidential: false,
      status: 'Draft',
      employmentType: 'FullTime',
      locationId: location.id,
      departmentId: team.id,
      defaultInterviewPlanId: planId,
      interviewPlanIds: [planId],
      customFields: [],
      jobPostingIds: [],
      hiringTeam: hiringTeam(ctx.world, index),
      author: userSummary(ctx.world, 0),
      createdAt: now(),
      updatedAt: now(),
    }));
    return { results: rec, naturalKey: title };
  },
  'job.update': (ctx) => {
    const jobId = reqUuid(ctx.body, 'jobId');
    existing(ctx, 'job', jobId, 'jobId');
    const patch: Record<string, unknown> = {};
    const title = optString(ctx.body, 'title');
    if (title !== undefined) {
      if (title.trim() === '') throw invalidInput('"title" must not be empty');
      patch.title = title;
    }
    const team = optExisting(ctx, 'department', 'teamId');
    if (team) patch.departmentId = team.id;
    const location = optExisting(ctx, 'location', 'locationId');
    if (location) patch.locationId = location.id;
    const plan = optExisting(ctx, 'interviewPlan', 'defaultInterviewPlanId');
    if (plan) patch.defaultInterviewPlanId = plan.id;
    const req = optString(ctx.body, 'customRequisitionId');
    if (req !== undefined) patch.customRequisitionId = req;
    const rec = ctx.world.update(jobId, patch);
    return { results: rec, naturalKey: jobId };
  },
  'job.setStatus': (ctx) => {
    const jobId = reqUuid(ctx.body, 'jobId');
    const status = reqEnum(ctx.body, 'status', JOB_STATUSES);
    const job = existing(ctx, 'job', jobId, 'jobId');
    const from = String(job.status);
    if (from !== status && !(JOB_TRANSITIONS[from] ?? []).includes(status)) {
      throw invalidInput(
        `"status" cannot change from ${from} to ${status}; allowed from ${from}: ${(JOB_TRANSITIONS[from] ?? []).join(', ') || 'none'}`,
      );
    }
    const patch: Record<string, unknown> = { status };
    if (status === 'Open' && !job.openedAt) patch.openedAt = now();
    if (status === 'Closed') patch.closedAt = now();
    const rec = from === status ? job : ctx.world.update(jobId, patch);
    // A posting is published while its job is open: opening or closing the job publishes or unpublishes
    // its postings, and Ashby says so per posting.
    if (from !== status && (from === 'Open' || status === 'Open')) {
      const ids = Array.isArray(job.jobPostingIds) ? job.jobPostingIds : [];
      for (const id of ids) {
        const posting = typeof id === 'string' ? ctx.world.get(id, 'jobPosting') : undefined;
        if (posting)
          ctx.world.announce(status === 'Open' ? 'jobPostingPublish' : 'jobPostingUnpublish', posting);
      }
    }
    return { results: rec, naturalKey: jobId };
  },

  // Published postings only ("Lists all published job postings"), listed and unlisted, of the primary
  // external job board unless `jobBoardId` names another (2026 spec). Paged as the reference connectors
  // page it.
  'jobPosting.list': listHandler({
    kind: 'jobPosting',
    paged: true,
    validate: (ctx) => void jobBoardOf(ctx),
    filter: all(
      (rec, ctx) => isPublished(ctx, rec) && onBoard(jobBoardOf(ctx), rec, ctx),
      (rec, ctx) => flag(ctx, 'listedOnly') !== true || rec.isListed === true,
      textFilter('locationName', 'location'),
      textFilter('departmentName', 'department'),
    ),
    map: (rec, ctx) => postingOnBoard(jobBoardOf(ctx), rec),
  }),
  'jobPosting.info': (ctx) => ({ results: infoOf(ctx, 'jobPosting', requiredId(ctx, 'jobPostingId')) }),
  // The 2026 spec answers with moreDataAvailable / nextCursor.
  'jobBoard.list': listHandler({ kind: 'jobBoard', paged: true }),
  // Active and inactive templates alike (2026 spec: no filter); `expand: ["location"]` adds the location.
  'jobTemplate.list': listHandler({
    kind: 'jobTemplate',
    map: (rec, ctx) => {
      const expand = expandList(ctx);
      for (const e of expand)
        if (e !== 'location') throw invalidInput('"expand" may only contain "location"');
      if (!expand.includes('location') || typeof rec.locationId !== 'string') return rec;
      const location = ctx.world.get(rec.locationId, 'location');
      return location ? { ...rec, location } : rec;
    },
  }),

  'opening.list': listHandler({ kind: 'opening', filter: createdAfter }),
  'opening.info': (ctx) => ({ results: infoOf(ctx, 'opening', requiredId(ctx, 'openingId')) }),
  'opening.search': (ctx) => {
    const identifier = ctx.body.identifier;
    if (typeof identifier !== 'string') throw invalidInput('Missing required field "identifier"');
    return {
      results: ctx.world
        .allOf('opening')
        .filter((o) => (o.latestVersion as Rec | undefined)?.identifier === identifier)
        .filter((o) => visible(ctx.world, ctx.key, 'opening', o)),
    };
  },
  'opening.create': (ctx) => {
    const b = ctx.body;
    const identifier = optString(b, 'identifier') ?? '';
    const description = optString(b, 'description') ?? '';
    const team = optExisting(ctx, 'department', 'teamId');
    const locationIds = (optArray(b, 'locationIds') ?? []).map(
      (id, i) => existing(ctx, 'location', uuidAt(id, `locationIds[${i}]`), `locationIds[${i}]`).id,
    );
    const jobIds = (optArray(b, 'jobIds') ?? []).map(
      (id, i) => existing(ctx, 'job', uuidAt(id, `jobIds[${i}]`), `jobIds[${i}]`).id,
    );
    const targetHireDate = optDate(b, 'targetHireDate');
    const targetStartDate = optDate(b, 'targetStartDate');
    const isBackfill = optBoolean(b, 'isBackfill') ?? false;
    const employmentType = optEnum(b, 'employmentType', EMPLOYMENT_TYPES) || 'FullTime';
    const openingState = optEnum(b, 'openingState', OPENING_STATES) ?? 'Draft';
    const rec = ctx.world.create('opening', (id, index) => {
      const version: Record<string, unknown> = {
        id: ctx.world.id('openingVersion', index),
        identifier,
        description,
        authorId: userSummary(ctx.world, 0).id,
        createdAt: now(),
        jobIds,
        isBackfill,
        employmentType,
        locationIds,
        hiringTeam: [],
        customFields: [],
      };
      if (team) version.teamId = team.id;
      if (targetHireDate) version.targetHireDate = targetHireDate;
      if (targetStartDate) version.targetStartDate = targetStartDate;
      const out: Rec = { id, isArchived: false, openingState, latestVersion: version };
      if (openingState === 'Open') out.openedAt = now();
      return out;
    });
    return { results: rec, naturalKey: identifier || rec.id };
  },
  'opening.update': (ctx) => {
    const id = reqUuid(ctx.body, 'openingId');
    const opening = existing(ctx, 'opening', id, 'openingId');
    const patch: Record<string, unknown> = {};
    const identifier = optString(ctx.body, 'identifier');
    if (identifier !== undefined) patch.identifier = identifier;
    const description = optString(ctx.body, 'description');
    if (description !== undefined) patch.description = description;
    const team = optExisting(ctx, 'department', 'teamId');
    if (team) patch.teamId = team.id;
    const hire = optDate(ctx.body, 'targetHireDate');
    if (hire) patch.targetHireDate = hire;
    const start = optDate(ctx.body, 'targetStartDate');
    if (start) patch.targetStartDate = start;
    const backfill = optBoolean(ctx.body, 'isBackfill');
    if (backfill !== undefined) patch.isBackfill = backfill;
    const employmentType = optEnum(ctx.body, 'employmentType', EMPLOYMENT_TYPES);
    if (employmentType) patch.employmentType = employmentType;
    const rec = updateVersion(ctx, opening, patch);
    return { results: rec, naturalKey: id };
  },
  'opening.addJob': (ctx) => {
    const id = reqUuid(ctx.body, 'openingId');
    const jobId = reqUuid(ctx.body, 'jobId');
    const opening = existing(ctx, 'opening', id, 'openingId');
    existing(ctx, 'job', jobId, 'jobId');
    const jobs = jobIdsOf(opening);
    const rec = jobs.includes(jobId) ? opening : updateVersion(ctx, opening, { jobIds: [...jobs, jobId] });
    return { results: rec, naturalKey: `${id}:${jobId}` };
  },
  'opening.removeJob': (ctx) => {
    const id = reqUuid(ctx.body, 'openingId');
    const jobId = reqUuid(ctx.body, 'jobId');
    const opening = existing(ctx, 'opening', id, 'openingId');
    const jobs = jobIdsOf(opening);
    if (!jobs.includes(jobId)) throw invalidInput(`"jobId" ${jobId} is not on this opening`);
    const rec = updateVersion(ctx, opening, { jobIds: jobs.filter((j) => j !== jobId) });
    return { results: rec, naturalKey: `${id}:${jobId}` };
  },
  'opening.setOpeningState': (ctx) => {
    const id = reqUuid(ctx.body, 'openingId');
    const state = reqEnum(ctx.body, 'openingState', OPENING_STATES);
    const closeReasonId = optUuid(ctx.body, 'closeReasonId');
    existing(ctx, 'opening', id, 'openingId');
    if (closeReasonId !== undefined) {
      if (state !== 'Closed') throw invalidInput('"closeReasonId" is only allowed with openingState Closed');
      existing(ctx, 'closeReason', closeReasonId, 'closeReasonId');
    }
    const patch: Record<string, unknown> = { openingState: state };
    if (state === 'Open') patch.openedAt = now();
    if (state === 'Closed') patch.closedAt = now();
    const rec = ctx.world.update(id, patch);
    return { results: rec, naturalKey: id };
  },
  'opening.setArchived': (ctx) => {
    const id = reqUuid(ctx.body, 'openingId');
    const archive = optBoolean(ctx.body, 'archive');
    if (archive === undefined) throw invalidInput('Missing required field "archive"');
    existing(ctx, 'opening', id, 'openingId');
    const rec = ctx.world.update(id, { isArchived: archive, archivedAt: archive ? now() : undefined });
    if (rec && rec.archivedAt === undefined) delete rec.archivedAt;
    return { results: rec, naturalKey: id };
  },
};
