import { describeScope } from '../ashby/catalogue.js';
import { type Handler, type RequestContext, visible } from './context.js';
import { ApiError, invalidInput, notFound } from './errors.js';
import type { Kind } from './ids.js';
import { isPublished, jobBoardOf, onBoard, postingIdsFor, postingOnBoard } from './job-postings.js';
import { createdAfter, flag, includeArchived, kindCode, listHandler, parentId } from './lists.js';
import { childrenOf, type Rec, type World } from './world.js';

function seededChildren(world: World, parentKind: Kind, kind: Kind, parent: string): string[] {
  const ids: string[] = [];
  const parents = world.seeded(parentKind);
  const idx = world.indexOf(parent, parentKind);
  if (idx !== undefined && idx < parents) {
    const [from, to] = childrenOf(idx, parents, world.seeded(kind));
    for (let i = from; i < to; i++) ids.push(world.id(kind, i));
  }
  ids.push(...world.createdChildrenOf(kind, parent));
  return ids;
}

function eq(field: string, bodyField = field) {
  return (rec: Rec, ctx: RequestContext): boolean => {
    const want = ctx.body[bodyField];
    if (want === undefined || want === null) return true;
    return rec[field] === want;
  };
}

function all(...filters: Array<(rec: Rec, ctx: RequestContext) => boolean>) {
  return (rec: Rec, ctx: RequestContext): boolean => filters.every((f) => f(rec, ctx));
}

function epochFilter(field: string, bodyField: string, after: boolean) {
  return (rec: Rec, ctx: RequestContext): boolean => {
    const v = ctx.body[bodyField];
    if (v === undefined || v === null) return true;
    if (typeof v !== 'number') throw invalidInput(`"${bodyField}" must be a number (epoch milliseconds)`);
    const t = Date.parse(String(rec[field] ?? ''));
    if (Number.isNaN(t)) return false;
    return after ? t > v : t < v;
  };
}

const JOB_STATUSES = ['Draft', 'Open', 'Closed', 'Archived'];

/** Filter values of `offer.list` (2026 spec). */
const OFFER_STATUSES = [
  'WaitingOnApprovalStart',
  'WaitingOnOfferApproval',
  'WaitingOnApprovalDefinition',
  'WaitingOnCandidateResponse',
  'CandidateRejected',
  'CandidateAccepted',
  'OfferCancelled',
];
const ACCEPTANCE_STATUSES = ['Accepted', 'Declined', 'Pending', 'Created', 'Cancelled', 'WaitingOnResponse'];
const APPROVAL_STATUSES = ['Approved', 'WaitingOnApprovals', 'Declined'];

/** Draft jobs are excluded unless `status` includes `Draft` (API-NOTES §4). */
function jobStatusFilter(rec: Rec, ctx: RequestContext): boolean {
  const status = ctx.body.status;
  if (status === undefined || status === null) return rec.status !== 'Draft';
  const list = Array.isArray(status) ? status : [status];
  for (const s of list) {
    if (typeof s !== 'string' || !JOB_STATUSES.includes(s)) {
      throw invalidInput(`"status" must contain only ${JOB_STATUSES.join(', ')}`);
    }
  }
  return list.includes(rec.status);
}

function applicationStatusFilter(rec: Rec, ctx: RequestContext): boolean {
  const s = ctx.body.status;
  if (s === undefined || s === null) return true;
  if (typeof s !== 'string' || !['Hired', 'Archived', 'Active', 'Lead'].includes(s)) {
    throw invalidInput('"status" must be one of Hired, Archived, Active, Lead');
  }
  return rec.status === s;
}

function expandList(ctx: RequestContext): unknown[] {
  const e = ctx.body.expand;
  if (e === undefined || e === null) return [];
  if (!Array.isArray(e)) throw invalidInput('"expand" must be an array');
  return e;
}

/** The job's openings for `expand: ["openings"]`, as the key may see them. */
function openingsFor(ctx: RequestContext, jobId: unknown): Rec[] {
  if (typeof jobId !== 'string') return [];
  return ctx.world.openingsOfJob(jobId).filter((o) => visible(ctx.world, ctx.key, 'opening', o));
}

function withOpenings(jobIdOf: (rec: Rec) => unknown) {
  return (rec: Rec, ctx: RequestContext): Rec =>
    expandList(ctx).includes('openings') ? { ...rec, openings: openingsFor(ctx, jobIdOf(rec)) } : rec;
}

function applicationJobFilter(rec: Rec, ctx: RequestContext): boolean {
  const jobId = ctx.body.jobId;
  if (jobId === undefined || jobId === null) return true;
  return (rec.job as Rec | undefined)?.id === jobId;
}

export const READ_HANDLERS: Record<string, Handler> = {
  'apiKey.info': (ctx) => ({
    results: {
      title: ctx.key.title ?? 'Sandbox key',
      createdAt: ctx.world.createdAt,
      // 2026 form (`candidates:read`), per SPEC-2026.
      scopes: ctx.key.scopes.map((s) => {
        const d = describeScope(s);
        const prefix = s.slice(0, -d.access.length);
        return `${prefix}:${d.access.toLowerCase()}`;
      }),
    },
  }),

  'candidate.list': listHandler({ kind: 'candidate', filter: createdAfter }),
  'application.list': listHandler({
    kind: 'application',
    filter: all(createdAfter, applicationStatusFilter, applicationJobFilter),
    map: withOpenings((app) => (app.job as Rec | undefined)?.id),
  }),
  'applicationFeedback.list': listHandler({
    kind: 'applicationFeedback',
    filter: all(createdAfter, eq('applicationId')),
  }),
  'application.listHistory': (ctx) => {
    const id = parentId(ctx, 'applicationId', 'application');
    const app = ctx.world.get(id, 'application') as Rec;
    const history = Array.isArray(app.applicationHistory)
      ? (app.applicationHistory as Rec[])
      : ctx.world.historyOf(app);
    return paginateArray(ctx, history);
  },
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
  // The 2026 spec answers with moreDataAvailable / nextCursor.
  'jobBoard.list': listHandler({ kind: 'jobBoard', paged: true }),
  'opening.list': listHandler({ kind: 'opening', filter: createdAfter }),
  'offer.list': listHandler({
    kind: 'offer',
    filter: all(
      eq('applicationId'),
      anyOf('offerStatus', OFFER_STATUSES, (rec) => rec.offerStatus),
      anyOf('acceptanceStatus', ACCEPTANCE_STATUSES, (rec) => rec.acceptanceStatus),
      anyOf(
        'approvalStatus',
        APPROVAL_STATUSES,
        (rec) => (rec.latestVersion as Rec | undefined)?.approvalStatus,
      ),
    ),
  }),
  'interviewSchedule.list': listHandler({
    kind: 'interviewSchedule',
    filter: all(createdAfter, eq('applicationId'), eq('interviewStageId')),
  }),
  // Shared interviews (no job) only, unless `includeNonSharedInterviews`.
  'interview.list': listHandler({
    kind: 'interview',
    filter: all(
      includeArchived,
      (rec, ctx) => flag(ctx, 'includeNonSharedInterviews') === true || rec.jobId === undefined,
    ),
    validate: (ctx) => void flag(ctx, 'excludeArchivedScheduleTemplateInterviews'),
  }),
  // The events of one schedule are the schedule's own `interviewEvents` (seeded or written through
  // interviewSchedule.create); `interview` is part of an event only with `expand: ["interview"]` (SPEC-2024).
  'interviewEvent.list': (ctx) => {
    const schedule = parentId(ctx, 'interviewScheduleId', 'interviewSchedule');
    const rec = ctx.world.get(schedule, 'interviewSchedule') as Rec;
    const events = Array.isArray(rec.interviewEvents) ? (rec.interviewEvents as Rec[]) : [];
    const expand = expandList(ctx);
    for (const e of expand) {
      if (e !== 'interview') throw invalidInput('"expand" may only contain "interview"');
    }
    const results = events
      .filter((event) => createdAfter(event as Rec, ctx))
      .map((event) => {
        if (expand.includes('interview')) return event;
        const { interview: _omitted, ...rest } = event;
        return rest;
      });
    // Paged since 2026 (its request takes `cursor` and `limit`).
    return paginateArray(ctx, results);
  },
  // Paged since 2026 (`cursor`, `limit`).
  'interviewPlan.list': listHandler({ kind: 'interviewPlan', paged: true, filter: includeArchived }),
  'interviewStage.list': (ctx) => {
    const plan = parentId(ctx, 'interviewPlanId', 'interviewPlan');
    return { results: ctx.world.stagesOfPlan(plan), moreDataAvailable: false };
  },
  'interviewStageGroup.list': listHandler({ kind: 'interviewStageGroup', paged: true }),
  'interviewerPool.list': listHandler({
    kind: 'interviewerPool',
    filter: (rec, ctx) => flag(ctx, 'includeArchivedPools') === true || rec.isArchived !== true,
    map: (rec, ctx) =>
      flag(ctx, 'includeArchivedTrainingStages') === true ? rec : withoutArchivedStages(rec),
  }),
  'feedbackFormDefinition.list': listHandler({ kind: 'feedbackFormDefinition', filter: includeArchived }),
  'surveyFormDefinition.list': listHandler({ kind: 'surveyFormDefinition' }),
  // `surveyType` is required and only `CandidateExperience` is supported (2026 spec); the type is that of
  // the request's survey form.
  'surveyRequest.list': listHandler({
    kind: 'surveyRequest',
    validate: (ctx) => void surveyRequestType(ctx),
    filter: all(
      (rec, ctx) => surveyTypeOfForm(ctx, rec.surveyFormDefinitionId) === surveyRequestType(ctx),
      eq('applicationId'),
      eq('candidateId'),
    ),
  }),
  // `surveyType` is required and selects the submissions of that type (SPEC-2024 request schema); each
  // record carries its type in `surveyType`.
  'surveySubmission.list': listHandler({
    kind: 'surveySubmission',
    validate: (ctx) => void surveyTypeOf(ctx),
    filter: all((rec, ctx) => rec.surveyType === surveyTypeOf(ctx), createdAfter),
  }),
  'user.list': listHandler({
    kind: 'user',
    filter: (rec, ctx) => flag(ctx, 'includeDeactivated') === true || rec.isEnabled !== false,
  }),
  // department.list, location.list and interviewPlan.list take `cursor` and `limit` since 2026; the
  // other lists marked `paged` are paged by the reference connectors.
  'department.list': listHandler({ kind: 'department', paged: true, filter: includeArchived }),
  // Regions (the location hierarchy) only with `includeLocationHierarchy`.
  'location.list': listHandler({
    kind: 'location',
    paged: true,
    filter: all(
      includeArchived,
      (rec, ctx) => flag(ctx, 'includeLocationHierarchy') === true || rec.type !== 'LocationHierarchy',
    ),
  }),
  'source.list': listHandler({ kind: 'source', paged: true, filter: includeArchived }),
  'sourceTrackingLink.list': listHandler({
    kind: 'sourceTrackingLink',
    paged: true,
    filter: (rec, ctx) => flag(ctx, 'includeDisabled') === true || rec.enabled !== false,
  }),
  'archiveReason.list': listHandler({ kind: 'archiveReason', paged: true, filter: includeArchived }),
  'candidateTag.list': listHandler({ kind: 'candidateTag', filter: includeArchived }),
  'customField.list': listHandler({ kind: 'customField', filter: includeArchived }),
  'project.list': listHandler({ kind: 'project', filter: createdAfter }),
  'candidate.listNotes': listHandler({
    kind: 'note',
    children: (ctx) => ({
      ids: seededChildren(ctx.world, 'candidate', 'note', parentId(ctx, 'candidateId', 'candidate')),
    }),
  }),
  'approval.list': listHandler({
    kind: 'approval',
    filter: all((rec, ctx) => {
      const type = ctx.body.entityType;
      if (type === undefined || type === null) return true;
      if (typeof type !== 'string' || !['offer', 'job', 'opening'].includes(type))
        throw invalidInput('"entityType" must be one of offer, job, opening');
      return rec.entityType === type;
    }, eq('entityId')),
  }),
  // `namesOnly` defaults to true: bare titles; `namesOnly:false` gives {id, title} (SPEC-2024/2026).
  'hiringTeamRole.list': (ctx) => {
    const namesOnly = ctx.body.namesOnly;
    if (namesOnly !== undefined && namesOnly !== null && typeof namesOnly !== 'boolean')
      throw invalidInput('"namesOnly" must be a boolean');
    const roles = ctx.world.allOf('hiringTeamRole');
    return {
      results:
        namesOnly === false ? roles.map((r) => ({ id: r.id, title: r.title })) : roles.map((r) => r.title),
    };
  },
  'applicationHiringTeamRole.list': listHandler({ kind: 'hiringTeamRole' }),
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

  // ---- 2026 list endpoints, shapes from SPEC-2026 (not in the 2024 spec)
  'brand.list': listHandler({ kind: 'brand' }),
  'closeReason.list': listHandler({ kind: 'closeReason', filter: includeArchived }),
  'communicationTemplate.list': listHandler({ kind: 'communicationTemplate' }),
  'candidate.listClientInfo': listHandler({
    kind: 'clientInfo',
    children: (ctx) => ({
      ids: seededChildren(ctx.world, 'candidate', 'clientInfo', parentId(ctx, 'candidateId', 'candidate')),
    }),
  }),
  'candidate.listProjects': (ctx) => {
    const candidate = parentId(ctx, 'candidateId', 'candidate');
    const projects = ctx.world
      .projectIdsOf(candidate)
      .map((id) => ctx.world.get(id, 'project'))
      .filter((p): p is Rec => p !== undefined && visible(ctx.world, ctx.key, 'project', p));
    return paginateArray(ctx, projects);
  },
  'application.listCriteriaEvaluations': (ctx) => {
    const app = parentId(ctx, 'applicationId', 'application');
    return paginateArray(ctx, ctx.world.criteriaEvaluationsOf(app));
  },
  // Neither the 2024 nor the 2026 spec nor API-NOTES.md gives this endpoint's record shape: the sandbox
  // invents none and answers the documented empty list envelope.
  'feedbackSubmission.list': (ctx) => paginateArray(ctx, []),
  // The sandbox organisation has Fraud Detection turned off and nobody has paused interviewing, so these
  // answer the documented envelopes with no records, after checking their parent as Ashby does.
  'candidate.listFraudChecks': (ctx) => {
    parentId(ctx, 'candidateId', 'candidate');
    return paginateArray(ctx, []);
  },
  'user.listInterviewerPauses': (ctx) => {
    parentId(ctx, 'userId', 'user');
    return { results: [] };
  },

  // ---- info
  'candidate.info': (ctx) => {
    const id = ctx.body.id ?? ctx.body.externalMappingId;
    if (typeof id !== 'string') throw invalidInput('Missing required field "id"');
    return { results: infoOf(ctx, 'candidate', id) };
  },
  'application.info': (ctx) => {
    const id = requiredId(ctx, 'applicationId');
    const app = infoOf(ctx, 'application', id);
    const expand = expandList(ctx);
    const out: Rec = { ...app };
    if (expand.includes('openings')) out.openings = openingsFor(ctx, (app.job as Rec | undefined)?.id);
    if (!out.applicationHistory) out.applicationHistory = ctx.world.historyOf(app);
    return { results: out };
  },
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
  'offer.info': (ctx) => ({ results: infoOf(ctx, 'offer', requiredId(ctx, 'offerId')) }),
  'user.info': (ctx) => ({ results: infoOf(ctx, 'user', requiredId(ctx, 'userId')) }),
  'location.info': (ctx) => ({ results: infoOf(ctx, 'location', requiredId(ctx, 'locationId')) }),
  'department.info': (ctx) => ({ results: infoOf(ctx, 'department', requiredId(ctx, 'departmentId')) }),
  'jobPosting.info': (ctx) => ({ results: infoOf(ctx, 'jobPosting', requiredId(ctx, 'jobPostingId')) }),
  'customField.info': (ctx) => ({ results: infoOf(ctx, 'customField', requiredId(ctx, 'customFieldId')) }),
  'opening.info': (ctx) => ({ results: infoOf(ctx, 'opening', requiredId(ctx, 'openingId')) }),
  'project.info': (ctx) => ({ results: infoOf(ctx, 'project', requiredId(ctx, 'projectId')) }),
  'interview.info': (ctx) => ({ results: infoOf(ctx, 'interview', requiredId(ctx, 'id')) }),
  'interviewStage.info': (ctx) => ({
    results: infoOf(ctx, 'interviewStage', requiredId(ctx, 'interviewStageId')),
  }),
  'interviewerPool.info': (ctx) => ({
    results: infoOf(ctx, 'interviewerPool', requiredId(ctx, 'interviewerPoolId')),
  }),
  'feedbackFormDefinition.info': (ctx) => ({
    results: infoOf(ctx, 'feedbackFormDefinition', requiredId(ctx, 'feedbackFormDefinitionId')),
  }),
  'surveyFormDefinition.info': (ctx) => ({
    results: infoOf(ctx, 'surveyFormDefinition', requiredId(ctx, 'surveyFormDefinitionId')),
  }),

  // ---- search (not paginated)
  'candidate.search': (ctx) => {
    const email = ctx.body.email;
    const name = ctx.body.name;
    if ((email === undefined || email === null) && (name === undefined || name === null)) {
      throw invalidInput('At least one of "email" or "name" is required');
    }
    if (email !== undefined && email !== null && typeof email !== 'string')
      throw invalidInput('"email" must be a string');
    if (name !== undefined && name !== null && typeof name !== 'string')
      throw invalidInput('"name" must be a string');
    const results = ctx.world.searchCandidates(
      typeof email === 'string' ? email : undefined,
      typeof name === 'string' ? name : undefined,
      (rec) => visible(ctx.world, ctx.key, 'candidate', rec),
    );
    return { results };
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
  'user.search': (ctx) => {
    const email = ctx.body.email;
    if (typeof email !== 'string') throw invalidInput('Missing required field "email"');
    return { results: ctx.world.allOf('user').filter((u) => u.email === email) };
  },
  'project.search': (ctx) => {
    const title = ctx.body.title;
    if (typeof title !== 'string') throw invalidInput('Missing required field "title"');
    const needle = title.toLowerCase();
    return {
      results: ctx.world
        .allOf('project')
        .filter(
          (p) => String(p.title).toLowerCase().includes(needle) && visible(ctx.world, ctx.key, 'project', p),
        )
        .slice(0, 100),
    };
  },
  'webhook.info': (ctx) => {
    const id = requiredId(ctx, 'webhookId');
    const hook = ctx.world.get(id, 'webhook');
    if (!hook) throw notFound('webhook');
    return { results: hook };
  },
  'file.info': (ctx) => {
    const handle = requiredId(ctx, 'fileHandle');
    return { results: { url: `https://files.sandbox.invalid/${encodeURIComponent(handle)}` } };
  },
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
};

/** An array filter of the 2026 spec (`offerStatus: [...]`): at least one value, each from `allowed`. */
function anyOf(param: string, allowed: readonly string[], valueAt: (rec: Rec) => unknown) {
  return (rec: Rec, ctx: RequestContext): boolean => {
    const want = ctx.body[param];
    if (want === undefined || want === null) return true;
    if (!Array.isArray(want) || want.length === 0 || want.some((v) => !allowed.includes(String(v)))) {
      throw invalidInput(`"${param}" must be a non-empty array of ${allowed.join(', ')}`);
    }
    return want.includes(valueAt(rec));
  };
}

/** A case-sensitive equality filter on a text field (`jobPosting.list` `location`, `department`). */
function textFilter(field: string, param: string) {
  return (rec: Rec, ctx: RequestContext): boolean => {
    const want = ctx.body[param];
    if (want === undefined || want === null) return true;
    if (typeof want !== 'string') throw invalidInput(`"${param}" must be a string`);
    return rec[field] === want;
  };
}

/** A pool without its archived training stages. */
function withoutArchivedStages(pool: Rec): Rec {
  const path = pool.trainingPath as Rec | undefined;
  if (!path || !Array.isArray(path.trainingStages)) return pool;
  const stages = (path.trainingStages as Rec[]).filter((s) => s.isArchived !== true);
  return { ...pool, trainingPath: { ...path, trainingStages: stages } };
}

/** `surveyRequest.list` requires `surveyType`, and supports `CandidateExperience` only (2026 spec). */
function surveyRequestType(ctx: RequestContext): string {
  const v = ctx.body.surveyType;
  if (v === undefined || v === null || v === '') throw invalidInput('Missing required field "surveyType"');
  if (v !== 'CandidateExperience') throw invalidInput('"surveyType" must be CandidateExperience');
  return v;
}

function surveyTypeOfForm(ctx: RequestContext, formId: unknown): unknown {
  return typeof formId === 'string' ? ctx.world.get(formId, 'surveyFormDefinition')?.surveyType : undefined;
}

const SURVEY_TYPES = ['CandidateDataConsent', 'CandidateExperience', 'Diversity', 'EEOC', 'Questionnaire'];

function surveyTypeOf(ctx: RequestContext): string {
  const v = ctx.body.surveyType;
  if (v === undefined || v === null || v === '') throw invalidInput('Missing required field "surveyType"');
  if (typeof v !== 'string' || !SURVEY_TYPES.includes(v)) {
    throw invalidInput(`"surveyType" must be one of ${SURVEY_TYPES.join(', ')}`);
  }
  return v;
}

function requiredId(ctx: RequestContext, field: string): string {
  const v = ctx.body[field];
  if (v === undefined || v === null || v === '') throw invalidInput(`Missing required field "${field}"`);
  if (typeof v !== 'string') throw invalidInput(`"${field}" must be a string`);
  return v;
}

function infoOf(ctx: RequestContext, kind: Kind, id: string): Rec {
  const rec = ctx.world.get(id, kind);
  if (!rec || !visible(ctx.world, ctx.key, kind, rec)) throw notFound(kindCode(kind), kind);
  return rec;
}

/** Pages an in-memory list (per-parent child lists are small). */
function paginateArray(ctx: RequestContext, items: Rec[]) {
  const limitRaw = ctx.body.limit;
  if (
    limitRaw !== undefined &&
    (typeof limitRaw !== 'number' || !Number.isInteger(limitRaw) || limitRaw < 1)
  ) {
    throw invalidInput('"limit" must be a positive integer');
  }
  const limit = Math.min(typeof limitRaw === 'number' ? limitRaw : 100, 100);
  let start = 0;
  if (ctx.body.cursor !== undefined && ctx.body.cursor !== null) {
    const c = ctx.codec.readCursor(ctx.body.cursor);
    if (!c || c.e !== ctx.endpoint) {
      throw new ApiError(
        'invalid_next_cursor',
        'The cursor could not be decoded. Restart pagination without a cursor.',
      );
    }
    start = c.p;
  }
  const page = items.slice(start, start + limit);
  const next = start + page.length;
  return next < items.length
    ? {
        results: page,
        moreDataAvailable: true,
        nextCursor: ctx.codec.cursor({
          e: ctx.endpoint,
          p: next,
          s: ctx.world.seq,
          n: items.length,
          g: 1,
          x: Date.now() + 3_600_000,
        }),
      }
    : { results: page, moreDataAvailable: false };
}
