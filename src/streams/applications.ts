import { idIn } from './fields.js';
import { perParent, type StreamDefinition } from './types.js';

export const applications: StreamDefinition = {
  name: 'applications',
  endpoint: 'application.list',
  primaryKey: ['id'],
  description: 'Applications of candidates to jobs: status, current stage, source, archive reason.',
  customFieldsObjectType: 'Application',
  confidential: (record, ctx) => idIn(record, 'job.id', ctx.jobIds) || idIn(record, 'id', ctx.applicationIds),
  confidentialKind: 'applicationIds',
  confidentialAfter: ['jobs'],
};

export const applicationFeedback: StreamDefinition = {
  name: 'application_feedback',
  endpoint: 'applicationFeedback.list',
  primaryKey: ['id'],
  description: 'Interview feedback submitted on applications.',
  confidential: (record, ctx) => idIn(record, 'applicationId', ctx.applicationIds),
  confidentialAfter: ['applications'],
};

export const applicationHistory: StreamDefinition = {
  name: 'application_history',
  endpoint: 'application.listHistory',
  primaryKey: ['id'],
  description: 'Stage history of each application (entered and left each stage).',
  parent: perParent('applications', 'applicationId'),
  optIn: true,
};

export const applicationHiringTeamRoles: StreamDefinition = {
  name: 'application_hiring_team_roles',
  endpoint: 'applicationHiringTeamRole.list',
  primaryKey: ['id'],
  description: 'Roles a member of an application hiring team can have.',
};

export const applicationCriteriaEvaluations: StreamDefinition = {
  name: 'application_criteria_evaluations',
  endpoint: 'application.listCriteriaEvaluations',
  primaryKey: ['id'],
  description: 'AI application review: how each application meets the job criteria.',
  parent: perParent('applications', 'applicationId'),
  optIn: true,
  note: 'added in 2026; only organisations with AI application review have records, and a record does not name its application',
};
