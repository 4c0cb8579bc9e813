import type { Handler, RequestContext } from './context.js';
import { ApiError, invalidInput, notFound } from './errors.js';
import {
  type Body,
  optBoolean,
  optDate,
  optEnum,
  optString,
  optUuid,
  reqEnum,
  reqString,
  reqUuid,
} from './validate.js';
import type { Rec } from './world.js';
import { EMPLOYMENT_TYPES, existing, now, optExisting, parseInterviewEvent } from './writes.js';

/**
 * Further write endpoints of the catalogue that are cheap to serve faithfully. Catalogue writes the
 * sandbox does NOT serve (they answer 404 `unknown_endpoint`): application.addHiringTeamMember,
 * application.removeHiringTeamMember, application.updateHistory, applicationFeedback.submit,
 * applicationForm.submit, approvalDefinition.update, assessment.*, candidate.anonymize,
 * candidate.removeTag, candidate.uploadFile, candidate.uploadResume, customField.create,
 * customField.setValues, customField.updateSelectableValues, department.archive/move/restore/update,
 * hiringTeam.addMember/removeMember, interviewerPool.*, job.updateCompensation (its request shape is
 * in neither the 2024 spec nor API-NOTES.md), jobPosting.update, location.archive/move/restore/
 * updateAddress/updateName/updateRemoteStatus/updateWorkplaceType, offer.approve,
 * offer.startApprovalProcess, offer.update, opening.addLocation/removeLocation, referral.create,
 * surveyRequest.create, surveySubmission.create, user.updateInterviewerSettings, webhook.update,
 * webhook.delete; reads: feedbackSubmission.info, jobInterviewPlan.info, referralForm.info,
 * report.generate, report.synchronous, user.interviewerSettings.
 */

const OPENING_STATES = ['Draft', 'Approved', 'Open', 'Closed'] as const;

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

export const MORE_WRITE_HANDLERS: Record<string, Handler> = {
  'application.changeSource': (ctx) => {
    const id = reqUuid(ctx.body, 'applicationId');
    existing(ctx, 'application', id, 'applicationId');
    if (!('sourceId' in ctx.body)) throw invalidInput('Missing required field "sourceId"');
    // `sourceId: null` unsets the source (SPEC-2026).
    const source = ctx.body.sourceId === null ? undefined : optExisting(ctx, 'source', 'sourceId');
    const rec = ctx.world.update(id, { source });
    if (rec && rec.source === undefined) delete rec.source;
    ctx.countWrite(id);
    return { results: rec };
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
      job: ctx.world.jobSummary(jobId),
      currentInterviewStage: stage,
      status,
    });
    ctx.countWrite(`${id}:${jobId}`);
    return { results: rec };
  },

  'candidate.addProject': (ctx) => {
    const candidateId = reqUuid(ctx.body, 'candidateId');
    const projectId = reqUuid(ctx.body, 'projectId');
    existing(ctx, 'candidate', candidateId, 'candidateId');
    existing(ctx, 'project', projectId, 'projectId');
    ctx.world.addProject(candidateId, projectId);
    // Membership is not a candidate field, but the candidate did change: incremental syncs see it.
    const rec = ctx.world.update(candidateId, {});
    ctx.countWrite(`${candidateId}:${projectId}`);
    return { results: rec };
  },

  'candidateTag.create': (ctx) => {
    const title = reqString(ctx.body, 'title');
    // "If a tag already exists with that title, the existing tag will be returned." (SPEC-2024)
    const found = ctx.world.allOf('candidateTag').find((t) => t.title === title);
    const rec = found ?? ctx.world.create('candidateTag', (id) => ({ id, title, isArchived: false }));
    ctx.countWrite(title);
    return { results: rec };
  },

  'department.create': (ctx) => {
    const name = reqString(ctx.body, 'name');
    const externalName = optString(ctx.body, 'externalName');
    const parent = optExisting(ctx, 'department', 'parentId');
    const rec = ctx.world.create('department', (id) => {
      const out: Rec = { id, name, isArchived: false, createdAt: now(), updatedAt: now() };
      if (parent) out.parentId = parent.id;
      if (externalName !== undefined) out.externalName = externalName;
      return out;
    });
    ctx.countWrite(name);
    return { results: rec };
  },

  'location.create': (ctx) => {
    const name = reqString(ctx.body, 'name');
    const type = reqEnum(ctx.body, 'type', ['Location', 'LocationHierarchy'] as const);
    const isRemote = optBoolean(ctx.body, 'isRemote') ?? false;
    if (isRemote && type === 'LocationHierarchy')
      throw invalidInput('"isRemote" cannot be true for a LocationHierarchy');
    const parent = optExisting(ctx, 'location', 'parentLocationId');
    const address = ctx.body.address;
    let postalAddress: Record<string, string> | undefined;
    if (address !== undefined && address !== null) {
      if (typeof address !== 'object' || Array.isArray(address))
        throw invalidInput('"address" must be an object');
      const pa = (address as Body).postalAddress;
      if (pa !== undefined && pa !== null) {
        if (typeof pa !== 'object' || Array.isArray(pa))
          throw invalidInput('"address.postalAddress" must be an object');
        postalAddress = {};
        for (const f of ['addressCountry', 'addressRegion', 'addressLocality']) {
          const v = optString(pa as Body, f);
          if (v !== undefined) postalAddress[f] = v;
        }
      }
    }
    const rec = ctx.world.create('location', (id) => {
      const out: Rec = { id, name, isArchived: false, isRemote, type };
      if (postalAddress) out.address = { postalAddress };
      if (parent) out.parentLocationId = parent.id;
      return out;
    });
    ctx.countWrite(name);
    return { results: rec };
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
    ctx.countWrite(id);
    return { results: rec };
  },

  'opening.addJob': (ctx) => {
    const id = reqUuid(ctx.body, 'openingId');
    const jobId = reqUuid(ctx.body, 'jobId');
    const opening = existing(ctx, 'opening', id, 'openingId');
    existing(ctx, 'job', jobId, 'jobId');
    const jobs = jobIdsOf(opening);
    const rec = jobs.includes(jobId) ? opening : updateVersion(ctx, opening, { jobIds: [...jobs, jobId] });
    ctx.countWrite(`${id}:${jobId}`);
    return { results: rec };
  },

  'opening.removeJob': (ctx) => {
    const id = reqUuid(ctx.body, 'openingId');
    const jobId = reqUuid(ctx.body, 'jobId');
    const opening = existing(ctx, 'opening', id, 'openingId');
    const jobs = jobIdsOf(opening);
    if (!jobs.includes(jobId)) throw invalidInput(`"jobId" ${jobId} is not on this opening`);
    const rec = updateVersion(ctx, opening, { jobIds: jobs.filter((j) => j !== jobId) });
    ctx.countWrite(`${id}:${jobId}`);
    return { results: rec };
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
    ctx.countWrite(id);
    return { results: rec };
  },

  'opening.setArchived': (ctx) => {
    const id = reqUuid(ctx.body, 'openingId');
    const archive = optBoolean(ctx.body, 'archive');
    if (archive === undefined) throw invalidInput('Missing required field "archive"');
    existing(ctx, 'opening', id, 'openingId');
    const rec = ctx.world.update(id, { isArchived: archive, archivedAt: archive ? now() : undefined });
    if (rec && rec.archivedAt === undefined) delete rec.archivedAt;
    ctx.countWrite(id);
    return { results: rec };
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
    ctx.countWrite(id);
    return { results: rec };
  },

  'interviewSchedule.cancel': (ctx) => {
    const id = reqUuid(ctx.body, 'id');
    optBoolean(ctx.body, 'allowReschedule');
    const schedule = existing(ctx, 'interviewSchedule', id, 'id');
    const rec = schedule.status === 'Cancelled' ? schedule : ctx.world.update(id, { status: 'Cancelled' });
    ctx.countWrite(id);
    return { results: rec };
  },
};
