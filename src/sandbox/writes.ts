import type { Handler, RequestContext } from './context.js';
import { visible } from './context.js';
import { ApiError, invalidInput, notFound } from './errors.js';
import type { Kind } from './ids.js';
import { kindCode } from './lists.js';
import {
  type Body,
  isEmail,
  optArray,
  optBoolean,
  optDate,
  optDateTime,
  optEmail,
  optEnum,
  optString,
  optUuid,
  reqEnum,
  reqString,
  reqUuid,
} from './validate.js';
import type { Rec } from './world.js';

const SOCIAL_TYPES = ['LinkedIn', 'GitHub', 'Twitter', 'Medium', 'StackOverflow', 'Website'] as const;
const JOB_STATUSES = ['Draft', 'Open', 'Closed', 'Archived'] as const;
export const EMPLOYMENT_TYPES = ['FullTime', 'PartTime', 'Intern', 'Contract', 'Temporary', ''] as const;
/** job.setStatus transitions (SPEC-2024 description). */
export const JOB_TRANSITIONS: Record<string, readonly string[]> = {
  Draft: ['Open', 'Archived'],
  Open: ['Closed'],
  Closed: ['Draft', 'Archived'],
  Archived: ['Draft'],
};
export const WEBHOOK_TYPES = [
  'applicationSubmit',
  'applicationUpdate',
  'candidateHire',
  'candidateStageChange',
  'candidateDelete',
  'candidateMerge',
  'interviewPlanTransition',
  'interviewScheduleCreate',
  'interviewScheduleUpdate',
  'jobCreate',
  'jobUpdate',
  'jobPostingUpdate',
  'jobPostingPublish',
  'jobPostingUnpublish',
  'offerCreate',
  'offerUpdate',
  'offerDelete',
  'openingCreate',
  'pushToHRIS',
  'surveySubmit',
] as const;

/** An existing record of `kind` the key may see, else `*_not_found` naming the field. */
export function existing(ctx: RequestContext, kind: Kind, id: string, field: string): Rec {
  const rec = ctx.world.get(id, kind);
  if (!rec || !visible(ctx.world, ctx.key, kind, rec)) {
    const err = notFound(kindCode(kind), `${kind} ("${field}": ${id})`);
    throw err;
  }
  return rec;
}

export function optExisting(ctx: RequestContext, kind: Kind, field: string): Rec | undefined {
  const id = optUuid(ctx.body, field);
  return id === undefined ? undefined : existing(ctx, kind, id, field);
}

export function now(): string {
  return new Date().toISOString();
}

function author(ctx: RequestContext): Rec {
  const u = ctx.world.userSummary(0);
  return { id: u.id, firstName: u.firstName, lastName: u.lastName, email: u.email };
}

function candidateFields(ctx: RequestContext, body: Body): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const name = optString(body, 'name');
  if (name !== undefined) {
    if (name.trim() === '') throw invalidInput('"name" must not be empty');
    out.name = name;
  }
  const email = optEmail(body, 'email');
  const alternates = optArray(body, 'alternateEmailAddresses') ?? [];
  alternates.forEach((a, i) => {
    if (!isEmail(a)) throw invalidInput(`"alternateEmailAddresses[${i}]" must be a valid email address`);
  });
  const alternate = optEmail(body, 'alternateEmail');
  if (alternate !== undefined) alternates.push(alternate);
  if (email !== undefined || alternates.length > 0) {
    const primary = email ? [{ value: email, type: 'Personal', isPrimary: true }] : [];
    out.emailAddresses = [
      ...primary,
      ...alternates.map((a) => ({ value: String(a), type: 'Other', isPrimary: false })),
    ];
    if (email) out.primaryEmailAddress = primary[0];
  }
  const phone = optString(body, 'phoneNumber');
  if (phone !== undefined) {
    out.primaryPhoneNumber = { value: phone, type: 'Personal', isPrimary: true };
    out.phoneNumbers = [out.primaryPhoneNumber];
  }
  const links: Rec[] = [];
  const linkedIn = optString(body, 'linkedInUrl');
  if (linkedIn) links.push({ type: 'LinkedIn', url: linkedIn } as unknown as Rec);
  const github = optString(body, 'githubUrl');
  if (github) links.push({ type: 'GitHub', url: github } as unknown as Rec);
  const website = optString(body, 'website') ?? optString(body, 'websiteUrl');
  if (website) links.push({ type: 'Website', url: website } as unknown as Rec);
  const social = optArray(body, 'socialLinks');
  social?.forEach((l, i) => {
    const link = (typeof l === 'object' && l !== null ? l : {}) as Body;
    reqEnum(link, 'type', SOCIAL_TYPES);
    if (typeof link.url !== 'string') throw invalidInput(`"socialLinks[${i}].url" must be a string`);
    links.push({ type: link.type, url: link.url } as unknown as Rec);
  });
  if (links.length > 0) out.socialLinks = links;
  const source = optExisting(ctx, 'source', 'sourceId');
  if (source) out.source = source;
  const credited = optExisting(ctx, 'user', 'creditedToUserId');
  if (credited) out.creditedToUser = credited;
  const createdAt = optDateTime(body, 'createdAt');
  if (createdAt) out.createdAt = createdAt;
  const location = body.location;
  if (location !== undefined && location !== null) {
    if (typeof location !== 'object') throw invalidInput('"location" must be an object');
    const l = location as Body;
    const parts = ['city', 'region', 'country'].map((f) => optString(l, f));
    out.primaryLocation = {
      id: ctx.world.id('location', 5000),
      locationSummary: parts.filter(Boolean).join(', '),
      locationComponents: [
        ...(parts[2] ? [{ type: 'Country', name: parts[2] }] : []),
        ...(parts[1] ? [{ type: 'Region', name: parts[1] }] : []),
        ...(parts[0] ? [{ type: 'City', name: parts[0] }] : []),
      ],
    };
  }
  return out;
}

function customFieldValue(fieldType: string, value: unknown, selectable: string[] | undefined): unknown {
  const bad = (what: string) => invalidInput(`"fieldValue" must be ${what} for a ${fieldType} field`);
  switch (fieldType) {
    case 'Boolean':
      if (typeof value !== 'boolean') throw bad('a boolean');
      return value;
    case 'Date':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw bad('an ISO 8601 date');
      return new Date(value).toISOString();
    case 'String':
    case 'LongText':
    case 'Email':
    case 'Phone':
      if (typeof value !== 'string') throw bad('a string');
      return value;
    case 'Number':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw bad('a number');
      return value;
    case 'ValueSelect':
      if (typeof value !== 'string' || (selectable && !selectable.includes(value)))
        throw bad('one of the selectable values');
      return value;
    case 'MultiValueSelect':
      if (
        !Array.isArray(value) ||
        value.some((v) => typeof v !== 'string' || (selectable && !selectable.includes(v)))
      ) {
        throw bad('an array of selectable values');
      }
      return value;
    case 'NumberRange': {
      const v = (typeof value === 'object' && value !== null ? value : {}) as Body;
      if (v.type !== 'number-range' || typeof v.minValue !== 'number' || typeof v.maxValue !== 'number') {
        throw bad('{type:"number-range", minValue, maxValue}');
      }
      return { type: 'number-range', minValue: v.minValue, maxValue: v.maxValue };
    }
    case 'CompensationRange': {
      const v = (typeof value === 'object' && value !== null ? value : {}) as Body;
      if (
        v.type !== 'compensation-range' ||
        typeof v.minValue !== 'number' ||
        typeof v.maxValue !== 'number' ||
        typeof v.currencyCode !== 'string' ||
        typeof v.interval !== 'string'
      ) {
        throw bad('{type:"compensation-range", minValue, maxValue, currencyCode, interval}');
      }
      return {
        type: 'compensation-range',
        minValue: v.minValue,
        maxValue: v.maxValue,
        currencyCode: v.currencyCode,
        interval: v.interval,
      };
    }
    case 'Currency': {
      const v = (typeof value === 'object' && value !== null ? value : {}) as Body;
      if (typeof v.value !== 'number' || typeof v.currencyCode !== 'string')
        throw bad('{currencyCode, value}');
      return { value: v.value, currencyCode: v.currencyCode };
    }
    default:
      throw bad('a supported value');
  }
}

/** The offer form every `offer.start` returns: one field of each type `offer.create` accepts. */
export const OFFER_FORM_FIELDS: ReadonlyArray<{
  path: string;
  type: string;
  title: string;
  required: boolean;
  values?: string[];
}> = [
  { path: 'salary', type: 'Currency', title: 'Base salary', required: true },
  { path: 'startDate', type: 'Date', title: 'Start date', required: true },
  { path: 'signOnBonusEligible', type: 'Boolean', title: 'Sign-on bonus eligible', required: false },
  { path: 'equityShares', type: 'Number', title: 'Equity (shares)', required: false },
  { path: 'jobTitle', type: 'String', title: 'Job title', required: false },
  {
    path: 'employmentType',
    type: 'ValueSelect',
    title: 'Employment type',
    required: true,
    values: ['FullTime', 'PartTime', 'Contract'],
  },
  {
    path: 'benefits',
    type: 'MultiValueSelect',
    title: 'Benefits',
    required: false,
    values: ['Health', 'Dental', 'Vision', '401k'],
  },
];

function offerFieldValue(field: (typeof OFFER_FORM_FIELDS)[number], value: unknown, i: number): unknown {
  const bad = (what: string) =>
    invalidInput(
      `"offerForm.fieldSubmissions[${i}].value" for "${field.path}" must be ${what} (${field.type})`,
    );
  switch (field.type) {
    case 'Currency': {
      const v = (typeof value === 'object' && value !== null ? value : {}) as Body;
      if (typeof v.currencyCode !== 'string' || typeof v.value !== 'number')
        throw bad('{currencyCode, value}');
      return { currencyCode: v.currencyCode, value: v.value };
    }
    case 'Date':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw bad('an ISO 8601 date');
      return value;
    case 'Boolean':
      if (typeof value !== 'boolean') throw bad('a boolean');
      return value;
    case 'Number':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw bad('an integer');
      return value;
    case 'String':
      if (typeof value !== 'string') throw bad('a string');
      return value;
    case 'ValueSelect':
      if (typeof value !== 'string' || !field.values?.includes(value))
        throw bad(`one of ${field.values?.join(', ')}`);
      return value;
    case 'MultiValueSelect':
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || !field.values?.includes(v))) {
        throw bad(`an array of ${field.values?.join(', ')}`);
      }
      return value;
    default:
      return value;
  }
}

export const WRITE_HANDLERS: Record<string, Handler> = {
  'candidate.create': (ctx) => {
    const name = reqString(ctx.body, 'name');
    const fields = candidateFields(ctx, ctx.body);
    const rec = ctx.world.create('candidate', (id) => ({
      id,
      createdAt: now(),
      updatedAt: now(),
      name,
      emailAddresses: [],
      phoneNumbers: [],
      socialLinks: [],
      tags: [],
      applicationIds: [],
      fileHandles: [],
      customFields: [],
      profileUrl: `https://app.ashbyhq.com/candidates/${id}`,
      ...fields,
    }));
    ctx.countWrite(typeof ctx.body.email === 'string' ? ctx.body.email.toLowerCase() : name);
    return { results: rec };
  },

  'candidate.update': (ctx) => {
    const id = reqUuid(ctx.body, 'candidateId');
    existing(ctx, 'candidate', id, 'candidateId');
    optBoolean(ctx.body, 'sendNotifications');
    const rec = ctx.world.update(id, candidateFields(ctx, ctx.body));
    ctx.countWrite(id);
    return { results: rec };
  },

  'candidate.addTag': (ctx) => {
    const id = reqUuid(ctx.body, 'candidateId');
    const tagId = reqUuid(ctx.body, 'tagId');
    const candidate = existing(ctx, 'candidate', id, 'candidateId');
    const tag = existing(ctx, 'candidateTag', tagId, 'tagId');
    const tags = Array.isArray(candidate.tags) ? (candidate.tags as Rec[]) : [];
    const rec = tags.some((t) => t.id === tagId) ? candidate : ctx.world.update(id, { tags: [...tags, tag] });
    ctx.countWrite(`${id}:${tagId}`);
    return { results: rec };
  },

  'candidate.createNote': (ctx) => {
    const candidateId = reqUuid(ctx.body, 'candidateId');
    existing(ctx, 'candidate', candidateId, 'candidateId');
    const note = ctx.body.note;
    let content: string;
    if (typeof note === 'string') content = note;
    else if (typeof note === 'object' && note !== null) {
      const n = note as Body;
      reqEnum(n, 'type', ['text/plain', 'text/html'] as const);
      content = reqString(n, 'value');
    } else throw invalidInput('Missing required field "note"');
    if (content.trim() === '') throw invalidInput('"note" must not be empty');
    optBoolean(ctx.body, 'sendNotifications');
    const createdAt = optDateTime(ctx.body, 'createdAt') ?? now();
    const rec = ctx.world.create(
      'note',
      (id) => ({ id, createdAt, content, author: author(ctx) }),
      candidateId,
    );
    ctx.countWrite(candidateId);
    return { results: rec };
  },

  'customField.setValue': (ctx) => {
    const objectId = reqUuid(ctx.body, 'objectId');
    const objectType = reqEnum(ctx.body, 'objectType', [
      'Application',
      'Candidate',
      'Job',
      'Opening',
    ] as const);
    const fieldId = reqUuid(ctx.body, 'fieldId');
    if (!('fieldValue' in ctx.body)) throw invalidInput('Missing required field "fieldValue"');
    const field = existing(ctx, 'customField', fieldId, 'fieldId');
    if (field.objectType !== objectType) {
      throw invalidInput(`"fieldId" is a ${String(field.objectType)} field, not a ${objectType} field`);
    }
    const kind = (objectType[0]?.toLowerCase() ?? '') + objectType.slice(1);
    const object = existing(ctx, kind as Kind, objectId, 'objectId');
    const selectable = Array.isArray(field.selectableValues)
      ? (field.selectableValues as Rec[]).map((v) => String(v.value))
      : undefined;
    const value = customFieldValue(String(field.fieldType), ctx.body.fieldValue, selectable);
    // Only seeded definitions exist (customField.create is not served), so the index is a seeded one.
    const entry = ctx.world.customFieldEntry(ctx.world.indexOf(fieldId, 'customField') ?? -1, value);
    const list =
      objectType === 'Opening'
        ? ((object.latestVersion as Rec | undefined)?.customFields ?? [])
        : (object.customFields ?? []);
    const next = [...(Array.isArray(list) ? (list as Rec[]) : []).filter((f) => f.id !== fieldId), entry];
    if (objectType === 'Opening') {
      ctx.world.update(objectId, { latestVersion: { ...(object.latestVersion as Rec), customFields: next } });
    } else ctx.world.update(objectId, { customFields: next });
    ctx.countWrite(`${objectId}:${fieldId}`);
    return { results: entry };
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
      hiringTeam: ctx.world.hiringTeam(index),
      author: ctx.world.userSummary(0),
      createdAt: now(),
      updatedAt: now(),
    }));
    ctx.countWrite(title);
    return { results: rec };
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
    ctx.countWrite(jobId);
    return { results: rec };
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
    ctx.countWrite(jobId);
    return { results: rec };
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
    const openingState =
      optEnum(b, 'openingState', ['Draft', 'Approved', 'Open', 'Closed'] as const) ?? 'Draft';
    const rec = ctx.world.create('opening', (id, index) => {
      const version: Record<string, unknown> = {
        id: ctx.world.id('openingVersion', index),
        identifier,
        description,
        authorId: ctx.world.userSummary(0).id,
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
    ctx.countWrite(identifier || rec.id);
    return { results: rec };
  },

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
          candidate: ctx.world.candidateSummary(candidateId),
          currentInterviewStage: stage,
          job: ctx.world.jobSummary(jobId),
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
    ctx.countWrite(`${candidateId}:${jobId}`);
    return { results: rec };
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
    ctx.countWrite(id);
    return { results: rec };
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
    ctx.countWrite(`${id}:${stageId}`);
    return { results: rec };
  },

  'offerProcess.start': (ctx) => {
    const applicationId = reqUuid(ctx.body, 'applicationId');
    existing(ctx, 'application', applicationId, 'applicationId');
    const rec = ctx.world.create('offerProcess', (id) => ({
      id,
      applicationId,
      status: 'WaitingOnOfferCreation',
    }));
    ctx.countWrite(applicationId);
    return { results: rec };
  },

  'offer.start': (ctx) => {
    const processId = reqUuid(ctx.body, 'offerProcessId');
    const process = existing(ctx, 'offerProcess', processId, 'offerProcessId');
    if (process.status !== 'WaitingOnOfferCreation') {
      throw invalidInput(
        `"offerProcessId" is in status ${String(process.status)}; an offer was already created`,
      );
    }
    const rec = ctx.world.create('offerForm', (id) => ({
      id,
      offerProcessId: processId,
      formDefinition: {
        sections: [
          {
            title: 'Offer details',
            fields: OFFER_FORM_FIELDS.map((f) => ({
              isRequired: f.required,
              field: {
                id: ctx.world.id('offerForm', 0x300000 + OFFER_FORM_FIELDS.indexOf(f)),
                type: f.type,
                path: f.path,
                humanReadablePath: f.title,
                title: f.title,
                isNullable: !f.required,
                // The spec (2024) types `selectableValues` as ONE {label, value} object, not an array;
                // the sandbox answers that shape with the field's first (default) option.
                ...(f.values?.[0] ? { selectableValues: { label: f.values[0], value: f.values[0] } } : {}),
              },
            })),
          },
        ],
      },
    }));
    ctx.countWrite(processId);
    const { offerProcessId: _omit, ...results } = rec;
    return { results };
  },

  'offer.create': (ctx) => {
    const processId = reqUuid(ctx.body, 'offerProcessId');
    const formId = reqUuid(ctx.body, 'offerFormId');
    const process = existing(ctx, 'offerProcess', processId, 'offerProcessId');
    const form = existing(ctx, 'offerForm', formId, 'offerFormId');
    if (form.offerProcessId !== processId)
      throw invalidInput('"offerFormId" does not belong to "offerProcessId"');
    const offerForm = ctx.body.offerForm;
    if (typeof offerForm !== 'object' || offerForm === null)
      throw invalidInput('Missing required field "offerForm"');
    const submissions = (offerForm as Body).fieldSubmissions;
    if (!Array.isArray(submissions))
      throw invalidInput('Missing required field "offerForm.fieldSubmissions"');
    const values = new Map<string, unknown>();
    submissions.forEach((s, i) => {
      const sub = (typeof s === 'object' && s !== null ? s : {}) as Body;
      if (typeof sub.path !== 'string')
        throw invalidInput(`"offerForm.fieldSubmissions[${i}].path" must be a string`);
      if (!('value' in sub))
        throw invalidInput(`Missing required field "offerForm.fieldSubmissions[${i}].value"`);
      const field = OFFER_FORM_FIELDS.find((f) => f.path === sub.path);
      if (!field)
        throw invalidInput(
          `"offerForm.fieldSubmissions[${i}].path" "${sub.path}" is not a field of the offer form`,
        );
      values.set(field.path, offerFieldValue(field, sub.value, i));
    });
    for (const f of OFFER_FORM_FIELDS) {
      if (f.required && !values.has(f.path)) throw invalidInput(`Missing required offer field "${f.path}"`);
    }
    const salary = values.get('salary') as { currencyCode: string; value: number };
    const offer = ctx.world.create('offer', (id, index) => {
      const version = {
        id: ctx.world.id('offerVersion', index),
        startDate: values.get('startDate'),
        salary,
        createdAt: now(),
        customFields: [],
        fileHandles: [],
        author: ctx.world.userSummary(0),
      };
      return {
        // Undecided: the spec types `decidedAt` as a string, so it is left out rather than null.
        id,
        applicationId: process.applicationId,
        acceptanceStatus: 'Created',
        offerStatus: 'WaitingOnApprovalStart',
        latestVersion: version,
        versions: [version],
      };
    });
    ctx.world.update(processId, { status: 'WaitingOnApprovalStart', offerId: offer.id });
    ctx.countWrite(processId);
    return { results: offer };
  },

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
        scheduledBy: ctx.world.userSummary(0),
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
    ctx.countWrite(applicationId);
    return { results: rec };
  },

  'webhook.create': (ctx) => {
    const webhookType = reqEnum(ctx.body, 'webhookType', WEBHOOK_TYPES);
    const requestUrl = reqString(ctx.body, 'requestUrl');
    try {
      const u = new URL(requestUrl);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    } catch {
      throw invalidInput('"requestUrl" must be an http(s) URL');
    }
    const secretToken = reqString(ctx.body, 'secretToken');
    const rec = ctx.world.create('webhook', (id) => ({
      id,
      enabled: true,
      requestUrl,
      secretToken,
      webhookType,
    }));
    ctx.countWrite(`${webhookType}:${requestUrl}`);
    return { results: rec };
  },
};

export function uuidAt(value: unknown, field: string): string {
  return reqUuid({ [field]: value }, field);
}

/** One event of `interviewSchedule.create` / `.update`, validated; `label` names it in messages. */
export function parseInterviewEvent(
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
    const summary = ctx.world.userSummary(ctx.world.indexOf(user.id, 'user') ?? 0);
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
