/**
 * Interview schedules and their events, interviews, interview plans and stages, interviewer pools and
 * feedback forms.
 */
import type { Handlers, RequestContext } from '../context.js';
import { ApiError, invalidInput } from '../errors.js';
import { userSummary } from '../generators/organization.js';
import type { Rec } from '../world/store.js';
import { createdAfter, flag, includeArchived, listHandler, paginateArray, parentId } from './lists.js';
import { all, eq, existing, expandList, infoOf, now, optExisting, requiredId } from './shared.js';
import { type Body, isEmail, optArray, optBoolean, optUuid, reqUuid } from './validate.js';

/** One event of `interviewSchedule.create` / `.update`, validated; `label` names it in messages. */
function parseInterviewEvent(
  ctx: RequestContext,
  e: unknown,
  label: string,
): {
  startTime: string;
  endTime: string;
  userIds: string[];
  interviewers: Rec[];
  interview: Rec | undefined;
} {
  const ev = (typeof e === 'object' && e !== null ? e : {}) as Body;
  const dateTime = (field: string): string | undefined => {
    const v = ev[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || Number.isNaN(Date.parse(v)))
      throw invalidInput(`"${label}.${field}" must be an ISO 8601 date`);
    return v;
  };
  const startTime = dateTime('startTime');
  const endTime = dateTime('endTime');
  if (!startTime) throw invalidInput(`Missing required field "${label}.startTime"`);
  if (!endTime) throw invalidInput(`Missing required field "${label}.endTime"`);
  if (Date.parse(endTime) <= Date.parse(startTime))
    throw invalidInput(`"${label}.endTime" must be after startTime`);
  const interviewers = Array.isArray(ev.interviewers) ? ev.interviewers : undefined;
  if (!interviewers || interviewers.length === 0)
    throw invalidInput(`Missing required field "${label}.interviewers"`);
  const users = ctx.world.allOf('user');
  const assigned = interviewers.map((x, j) => {
    const entry = (typeof x === 'object' && x !== null ? x : {}) as Body;
    const email = entry.email as unknown;
    if (!isEmail(email))
      throw invalidInput(`"${label}.interviewers[${j}].email" must be a valid email address`);
    const user = users.find((u) => u.email === email);
    if (!user)
      throw new ApiError(
        'user_not_found',
        `No user with email ${email} ("${label}.interviewers[${j}].email")`,
      );
    const feedbackRequired = optBoolean(entry, 'feedbackRequired');
    // As an event's interviewers are listed (2026 spec): the user, qualified, from no particular pool.
    const summary = userSummary(ctx.world, ctx.world.indexOf(user.id, 'user') ?? 0);
    return {
      id: user.id,
      interviewer: {
        ...summary,
        trainingRole: null,
        interviewerPool: null,
        isFeedbackRequired: feedbackRequired ?? true,
      },
    };
  });
  const interview =
    optExisting({ ...ctx, body: ev }, 'interview', 'interviewId') ??
    ctx.world.get(ctx.world.id('interview', 0), 'interview');
  return {
    startTime,
    endTime,
    userIds: assigned.map((a) => a.id),
    interviewers: assigned.map((a) => a.interviewer as Rec),
    interview,
  };
}

/** A pool without its archived training stages. */
function withoutArchivedStages(pool: Rec): Rec {
  const path = pool.trainingPath as Rec | undefined;
  if (!path || !Array.isArray(path.trainingStages)) return pool;
  const stages = (path.trainingStages as Rec[]).filter((s) => s.isArchived !== true);
  return { ...pool, trainingPath: { ...path, trainingStages: stages } };
}

export const interviewHandlers: Handlers = {
  'interviewSchedule.list': listHandler({
    kind: 'interviewSchedule',
    filter: all(createdAfter, eq('applicationId'), eq('interviewStageId')),
  }),
  'interviewSchedule.create': (ctx) => {
    const applicationId = reqUuid(ctx.body, 'applicationId');
    const app = existing(ctx, 'application', applicationId, 'applicationId');
    const events = optArray(ctx.body, 'interviewEvents');
    if (!events || events.length === 0) throw invalidInput('Missing required field "interviewEvents"');
    const parsed = events.map((e, i) => parseInterviewEvent(ctx, e, `interviewEvents[${i}]`));
    const stage = app.currentInterviewStage as Rec;
    const rec = ctx.world.create(
      'interviewSchedule',
      (id, index) => ({
        id,
        status: 'Scheduled',
        applicationId,
        interviewStageId: stage.id,
        // Scheduled through the API: by the key's user (the organisation's admin in the sandbox).
        scheduledBy: userSummary(ctx.world, 0),
        interviewEvents: parsed.map((p, k) => {
          const evId = ctx.world.id('interviewEvent', 0x400000 + index * 4 + k);
          return {
            id: evId,
            interviewId: p.interview?.id,
            interviewScheduleId: id,
            interviewerUserIds: p.userIds,
            interviewers: p.interviewers,
            createdAt: now(),
            updatedAt: now(),
            startTime: new Date(p.startTime).toISOString(),
            endTime: new Date(p.endTime).toISOString(),
            feedbackLink: `https://app.ashbyhq.com/interview-briefings/${evId}/feedback`,
            hasSubmittedFeedback: false,
            ...(p.interview ? { interview: p.interview } : {}),
          };
        }),
        createdAt: now(),
        updatedAt: now(),
      }),
      applicationId,
    );
    return { results: rec, naturalKey: applicationId };
  },
  'interviewSchedule.update': (ctx) => {
    const id = reqUuid(ctx.body, 'interviewScheduleId');
    const schedule = existing(ctx, 'interviewSchedule', id, 'interviewScheduleId');
    const events = Array.isArray(schedule.interviewEvents) ? (schedule.interviewEvents as Rec[]) : [];
    const toCancel = optUuid(ctx.body, 'interviewEventIdToCancel');
    let next: Rec[];
    if (toCancel !== undefined) {
      if (!events.some((e) => e.id === toCancel))
        throw new ApiError(
          'interview_event_not_found',
          `Interview event not found ("interviewEventIdToCancel": ${toCancel})`,
        );
      next = events.filter((e) => e.id !== toCancel);
    } else {
      const raw = ctx.body.interviewEvent;
      if (typeof raw !== 'object' || raw === null)
        throw invalidInput('Missing required field "interviewEvent"');
      const eventId = optUuid(raw as Body, 'interviewEventId');
      const p = parseInterviewEvent(ctx, raw, 'interviewEvent');
      const fields = {
        interviewerUserIds: p.userIds,
        interviewers: p.interviewers,
        updatedAt: now(),
        startTime: new Date(p.startTime).toISOString(),
        endTime: new Date(p.endTime).toISOString(),
        ...(p.interview ? { interviewId: p.interview.id, interview: p.interview } : {}),
      };
      if (eventId !== undefined) {
        if (!events.some((e) => e.id === eventId))
          throw new ApiError(
            'interview_event_not_found',
            `Interview event not found ("interviewEvent.interviewEventId": ${eventId})`,
          );
        next = events.map((e) => (e.id === eventId ? { ...e, ...fields } : e));
      } else {
        const evId = ctx.world.id('interviewEvent', 0x600000 + ctx.world.seq);
        next = [
          ...events,
          {
            id: evId,
            interviewScheduleId: id,
            createdAt: now(),
            feedbackLink: `https://app.ashbyhq.com/interview-briefings/${evId}/feedback`,
            hasSubmittedFeedback: false,
            ...fields,
          } as Rec,
        ];
      }
    }
    const rec = ctx.world.update(id, { interviewEvents: next });
    return { results: rec, naturalKey: id };
  },
  'interviewSchedule.cancel': (ctx) => {
    const id = reqUuid(ctx.body, 'id');
    optBoolean(ctx.body, 'allowReschedule');
    const schedule = existing(ctx, 'interviewSchedule', id, 'id');
    const rec = schedule.status === 'Cancelled' ? schedule : ctx.world.update(id, { status: 'Cancelled' });
    return { results: rec, naturalKey: id };
  },

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
    return paginateArray(ctx, results as Rec[]);
  },

  // Shared interviews (no job) only, unless `includeNonSharedInterviews`.
  'interview.list': listHandler({
    kind: 'interview',
    filter: all(
      includeArchived,
      (rec, ctx) => flag(ctx, 'includeNonSharedInterviews') === true || rec.jobId === undefined,
    ),
    validate: (ctx) => void flag(ctx, 'excludeArchivedScheduleTemplateInterviews'),
  }),
  'interview.info': (ctx) => ({ results: infoOf(ctx, 'interview', requiredId(ctx, 'id')) }),
  // Paged since 2026 (`cursor`, `limit`).
  'interviewPlan.list': listHandler({ kind: 'interviewPlan', paged: true, filter: includeArchived }),
  'interviewStage.list': (ctx) => {
    const plan = parentId(ctx, 'interviewPlanId', 'interviewPlan');
    return { results: ctx.world.stagesOfPlan(plan), moreDataAvailable: false };
  },
  'interviewStage.info': (ctx) => ({
    results: infoOf(ctx, 'interviewStage', requiredId(ctx, 'interviewStageId')),
  }),
  'interviewStageGroup.list': listHandler({ kind: 'interviewStageGroup', paged: true }),
  'interviewerPool.list': listHandler({
    kind: 'interviewerPool',
    filter: (rec, ctx) => flag(ctx, 'includeArchivedPools') === true || rec.isArchived !== true,
    map: (rec, ctx) =>
      flag(ctx, 'includeArchivedTrainingStages') === true ? rec : withoutArchivedStages(rec),
  }),
  'interviewerPool.info': (ctx) => ({
    results: infoOf(ctx, 'interviewerPool', requiredId(ctx, 'interviewerPoolId')),
  }),
  'feedbackFormDefinition.list': listHandler({ kind: 'feedbackFormDefinition', filter: includeArchived }),
  'feedbackFormDefinition.info': (ctx) => ({
    results: infoOf(ctx, 'feedbackFormDefinition', requiredId(ctx, 'feedbackFormDefinitionId')),
  }),
  // Neither the 2024 nor the 2026 spec nor API-NOTES.md gives this endpoint's record shape: the sandbox
  // invents none and answers the documented empty list envelope.
  'feedbackSubmission.list': (ctx) => paginateArray(ctx, []),
};
