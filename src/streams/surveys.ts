import type { StreamDefinition } from './types.js';

export const surveyFormDefinitions: StreamDefinition = {
  name: 'survey_form_definitions',
  endpoint: 'surveyFormDefinition.list',
  primaryKey: ['id'],
  description: 'Survey forms.',
};

export const surveyRequests: StreamDefinition = {
  name: 'survey_requests',
  endpoint: 'surveyRequest.list',
  primaryKey: ['id'],
  description: 'Candidate experience surveys sent to candidates.',
  // Required, and the only type surveyRequest.list supports (2026 spec).
  body: () => ({ surveyType: 'CandidateExperience' }),
};

/** `surveySubmission.list` requires a `surveyType`; the stream reads each type in turn. */
export const SURVEY_TYPES = [
  'CandidateDataConsent',
  'CandidateExperience',
  'Diversity',
  'EEOC',
  'Questionnaire',
];

export const surveySubmissions: StreamDefinition = {
  name: 'survey_submissions',
  refreshAfterMs: 3_600_000,
  endpoint: 'surveySubmission.list',
  primaryKey: ['id'],
  description: 'Survey answers, for every survey type.',
  parent: { kind: 'values', param: 'surveyType', values: SURVEY_TYPES },
};
