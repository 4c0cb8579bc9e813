/** Applications: their stages and history, feedback, criteria evaluations and hiring team roles. */
import type { Handlers, RequestContext } from '../context.js';
import { ApiError, invalidInput } from '../errors.js';
import { listedApplication } from '../generators/applications.js';
import { candidateSummary } from '../generators/candidates.js';
import { jobSummary } from '../generators/jobs.js';
import { visible } from '../world/confidential.js';
import type { Rec } from '../world/store.js';
import { openingsFor, withOpenings } from './jobs.js';
import { createdAfter, listHandler, paginateArray, parentId } from './lists.js';
import { all, eq, existing, expandList, infoOf, now, optExisting, requiredId } from './shared.js';
import { optBoolean, optDateTime, optUuid, reqUuid } from './validate.js';

function applicationStatusFilter(rec: Rec, ctx: RequestContext): boolean {
  const s = ctx.body.status;
  if (s === undefined || s === null) return true;
  if (typeof s !== 'string' || !['Hired', 'Archived', 'Active', 'Lead'].includes(s)) {
    throw invalidInput('"status" must be one of Hired, Archived, Active, Lead');
  }
  return rec.status === s;
}

function applicationJobFilter(rec: Rec, ctx: RequestContext): boolean {
  const jobId = ctx.body.jobId;
  if (jobId === undefined || jobId === null) return true;
  return (rec.job as Rec | undefined)?.id === jobId;
}

/** The stage record of `interviewStageId` inside `planId`, else `interview_stage_not_found`. */
function stageIn(ctx: RequestContext, planId: string, stageId: string): Rec {
  const stages = ctx.world.stagesOfPlan(planId);
  if (stages.length === 0)
    throw new ApiError('interview_plan_not_found', `Interview plan not found ("interviewPlanId": ${planId})`);
  const stage = stages.find((s) => s.id === stageId);
  if (!stage)
    throw new ApiError(
      'interview_stage_not_found',
      `Interview stage not found ("interviewStageId": ${stageId})`,
    );
  return stage;
}

export const applicationHandlers: Handlers = {
  'application.list': listHandler({
    kind: 'application',
    filter: all(createdAfter, applicationStatusFilter, applicationJobFilter),
    map: (app, ctx) => listedApplication(withOpenings((a) => (a.job as Rec | undefined)?.id)(app, ctx)),
  }),
  'application.info': (ctx) => {
    const id = requiredId(ctx, 'applicationId');
    const app = infoOf(ctx, 'application', id);
    const expand = expandList(ctx);
    const out: Rec = { ...app };
    if (expand.includes('openings')) out.openings = openingsFor(ctx, (app.job as Rec | undefined)?.id);
    if (!out.applicationHistory) out.applicationHistory = ctx.world.historyOf(app);
    return { results: out };
  },
  'application.listHistory': (ctx) => {
    const id = parentId(ctx, 'applicationId', 'application');
    const app = ctx.world.get(id, 'application') as Rec;
    const history = Array.isArray(app.applicationHistory)
      ? (app.applicationHistory as Rec[])
      : ctx.world.historyOf(app);
    return paginateArray(ctx, history);
  },
  'application.listCriteriaEvaluations': (ctx) => {
    const app = parentId(ctx, 'applicationId', 'application');
    return paginateArray(ctx, ctx.world.criteriaEvaluationsOf(app));
  },
  'applicationFeedback.list': listHandler({
    kind: 'applicationFeedback',
    filter: all(createdAfter, eq('applicationId')),
  }),
  'applicationHiringTeamRole.list': listHandler({ kind: 'hiringTeamRole' }),

  'application.create': (ctx) => {
    const candidateId = reqUuid(ctx.body, 'candidateId');
    const jobId = reqUuid(ctx.body, 'jobId');
    const candidate = existing(ctx, 'candidate', candidateId, 'candidateId');
    const job = existing(ctx, 'job', jobId, 'jobId');
    if (job.status === 'Draft' || job.status === 'Archived') {
      throw invalidInput(`"jobId" refers to a ${String(job.status)} job, which cannot take applications`);
    }
    const planId = optUuid(ctx.body, 'interviewPlanId') ?? String(job.defaultInterviewPlanId);
    const stages = ctx.world.stagesOfPlan(planId);
    if (stages.length === 0)
      throw new ApiError(
        'interview_plan_not_found',
        `Interview plan not found ("interviewPlanId": ${planId})`,
      );
    const stageParam = ctx.body.interviewStageId;
    let stage: Rec | undefined = stages[0];
    if (stageParam === 'FirstPreInterviewScreen') stage = stages.find((s) => s.type === 'PreInterviewScreen');
    else if (stageParam !== undefined && stageParam !== null) {
      const id = optUuid(ctx.body, 'interviewStageId');
      stage = stages.find((s) => s.id === id);
      if (!stage)
        throw new ApiError(
          'interview_stage_not_found',
          `Interview stage not found ("interviewStageId": ${String(id)})`,
        );
    }
    const source = optExisting(ctx, 'source', 'sourceId');
    const credited = optExisting(ctx, 'user', 'creditedToUserId');
    const createdAt = optDateTime(ctx.body, 'createdAt') ?? now();
    const rec = ctx.world.create(
      'application',
      (id) => {
        const out: Rec = {
          id,
          createdAt,
          updatedAt: now(),
          status: stage?.type === 'Lead' ? 'Lead' : 'Active',
          customFields: [],
          candidate: candidateSummary(ctx.world, candidateId),
          currentInterviewStage: stage,
          job: jobSummary(ctx.world, jobId),
          hiringTeam: [],
        };
        if (source) out.source = source;
        if (credited) out.creditedToUser = credited;
        return out;
      },
      candidateId,
    );
    const apps = Array.isArray(candidate.applicationIds) ? candidate.applicationIds : [];
    ctx.world.update(candidateId, { applicationIds: [...apps, rec.id] });
    return { results: rec, naturalKey: `${candidateId}:${jobId}` };
  },
  'application.update': (ctx) => {
    const id = reqUuid(ctx.body, 'applicationId');
    existing(ctx, 'application', id, 'applicationId');
    const patch: Record<string, unknown> = {};
    const source = optExisting(ctx, 'source', 'sourceId');
    if (source) patch.source = source;
    const credited = optExisting(ctx, 'user', 'creditedToUserId');
    if (credited) patch.creditedToUser = credited;
    const createdAt = optDateTime(ctx.body, 'createdAt');
    if (createdAt) patch.createdAt = createdAt;
    optBoolean(ctx.body, 'sendNotifications');
    const rec = ctx.world.update(id, patch);
    return { results: rec, naturalKey: id };
  },
  'application.changeStage': (ctx) => {
    const id = reqUuid(ctx.body, 'applicationId');
    const stageId = reqUuid(ctx.body, 'interviewStageId');
    const app = ctx.world.get(id, 'application');
    if (!app || !visible(ctx.world, ctx.key, 'application', app)) {
      throw new ApiError(
        'application_not_found',
        'Application not found - are you lacking permissions to edit candidates?',
      );
    }
    const current = app.currentInterviewStage as Rec;
    const stages = ctx.world.stagesOfPlan(String(current.interviewPlanId));
    const stage = stages.find((s) => s.id === stageId);
    if (!stage)
      throw new ApiError(
        'interview_stage_not_found',
        `Interview stage not found ("interviewStageId": ${stageId})`,
      );
    const patch: Record<string, unknown> = { currentInterviewStage: stage };
    if (stage.type === 'Archived') {
      const reasonId = optUuid(ctx.body, 'archiveReasonId');
      if (!reasonId) throw invalidInput('"archiveReasonId" is required when moving to an Archived stage');
      const reason = ctx.world.get(reasonId, 'archiveReason');
      if (!reason)
        throw new ApiError(
          'archive_reason_not_found',
          `Archive reason not found ("archiveReasonId": ${reasonId})`,
        );
      patch.archiveReason = reason;
      patch.archivedAt = now();
      patch.status = 'Archived';
    } else {
      patch.status = stage.type === 'Hired' ? 'Hired' : stage.type === 'Lead' ? 'Lead' : 'Active';
      patch.archivedAt = undefined;
      if ('archiveReason' in app) patch.archiveReason = undefined;
    }
    const history = Array.isArray(app.applicationHistory)
      ? (app.applicationHistory as Rec[])
      : ctx.world.historyOf(app);
    const last = history[history.length - 1];
    const entered = now();
    patch.applicationHistory = [
      ...history.slice(0, -1),
      ...(last ? [{ ...last, leftStageAt: entered }] : []),
      {
        id: ctx.world.id('applicationHistory', 0x400000 + ctx.world.seq),
        stageId: stage.id,
        title: stage.title,
        enteredStageAt: entered,
        stageNumber: history.length,
        allowedActions: ['delete', 'set_entered_at'],
      },
    ];
    const rec = ctx.world.update(id, patch);
    if (rec && rec.archiveReason === undefined) delete rec.archiveReason;
    if (rec && rec.archivedAt === undefined) delete rec.archivedAt;
    if (rec) {
      ctx.world.announce('candidateStageChange', rec);
      if (stage.type === 'Hired') ctx.world.announce('candidateHire', rec);
    }
    return { results: rec, naturalKey: `${id}:${stageId}` };
  },
  'application.changeSource': (ctx) => {
    const id = reqUuid(ctx.body, 'applicationId');
    existing(ctx, 'application', id, 'applicationId');
    if (!('sourceId' in ctx.body)) throw invalidInput('Missing required field "sourceId"');
    // `sourceId: null` unsets the source (SPEC-2026).
    const source = ctx.body.sourceId === null ? undefined : optExisting(ctx, 'source', 'sourceId');
    const rec = ctx.world.update(id, { source });
    if (rec && rec.source === undefined) delete rec.source;
    return { results: rec, naturalKey: id };
  },
  'application.transfer': (ctx) => {
    const id = reqUuid(ctx.body, 'applicationId');
    const jobId = reqUuid(ctx.body, 'jobId');
    const planId = reqUuid(ctx.body, 'interviewPlanId');
    const stageId = reqUuid(ctx.body, 'interviewStageId');
    optBoolean(ctx.body, 'startAutomaticActivities');
    existing(ctx, 'application', id, 'applicationId');
    const job = existing(ctx, 'job', jobId, 'jobId');
    if (job.status === 'Draft' || job.status === 'Archived') {
      throw invalidInput(`"jobId" refers to a ${String(job.status)} job, which cannot take applications`);
    }
    const stage = stageIn(ctx, planId, stageId);
    const status = stage.type === 'Hired' ? 'Hired' : stage.type === 'Lead' ? 'Lead' : 'Active';
    const rec = ctx.world.update(id, {
      job: jobSummary(ctx.world, jobId),
      currentInterviewStage: stage,
      status,
    });
    return { results: rec, naturalKey: `${id}:${jobId}` };
  },
};
