/**
 * Offers and their approvals. An offer is made in three steps: `offerProcess.start` on an application,
 * `offer.start` for the offer form, `offer.create` with the form filled in.
 */
import type { Handlers } from '../context.js';
import { invalidInput } from '../errors.js';
import { userSummary } from '../generators/organization.js';
import type { Rec } from '../world/store.js';
import { listHandler } from './lists.js';
import { all, anyOf, eq, existing, infoOf, now, requiredId } from './shared.js';
import { type Body, reqUuid } from './validate.js';

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

/** The offer form every `offer.start` returns: one field of each type `offer.create` accepts. */
const OFFER_FORM_FIELDS: ReadonlyArray<{
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

export const offerHandlers: Handlers = {
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
  'offer.info': (ctx) => ({ results: infoOf(ctx, 'offer', requiredId(ctx, 'offerId')) }),

  'offerProcess.start': (ctx) => {
    const applicationId = reqUuid(ctx.body, 'applicationId');
    existing(ctx, 'application', applicationId, 'applicationId');
    const rec = ctx.world.create('offerProcess', (id) => ({
      id,
      applicationId,
      status: 'WaitingOnOfferCreation',
    }));
    return { results: rec, naturalKey: applicationId };
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
    const { offerProcessId: _omit, ...results } = rec;
    return { results, naturalKey: processId };
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
        author: userSummary(ctx.world, 0),
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
    return { results: offer, naturalKey: processId };
  },

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
};
