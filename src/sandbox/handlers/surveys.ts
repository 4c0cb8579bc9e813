/** Survey forms, requests and submissions. */
import type { Handlers, RequestContext } from '../context.js';
import { invalidInput } from '../errors.js';
import { createdAfter, listHandler } from './lists.js';
import { all, eq, infoOf, requiredId } from './shared.js';

const SURVEY_TYPES = ['CandidateDataConsent', 'CandidateExperience', 'Diversity', 'EEOC', 'Questionnaire'];

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

function surveyTypeOf(ctx: RequestContext): string {
  const v = ctx.body.surveyType;
  if (v === undefined || v === null || v === '') throw invalidInput('Missing required field "surveyType"');
  if (typeof v !== 'string' || !SURVEY_TYPES.includes(v)) {
    throw invalidInput(`"surveyType" must be one of ${SURVEY_TYPES.join(', ')}`);
  }
  return v;
}

export const surveyHandlers: Handlers = {
  'surveyFormDefinition.list': listHandler({ kind: 'surveyFormDefinition' }),
  'surveyFormDefinition.info': (ctx) => ({
    results: infoOf(ctx, 'surveyFormDefinition', requiredId(ctx, 'surveyFormDefinitionId')),
  }),
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
};
