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

/** Seconds between two ISO times, or `null` when either is missing or unreadable. */
function secondsBetween(from: unknown, to: unknown): number | null {
  if (typeof from !== 'string' || typeof to !== 'string') return null;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) ? ms / 1000 : null;
}

export const applicationStageHistory: StreamDefinition = {
  name: 'application_stage_history',
  endpoint: 'application.listHistory',
  primaryKey: ['id'],
  description:
    'One row per stage an application entered: stage, entered and left at, seconds spent there (`applicationId` and `durationSeconds` added by ashpipe). Re-reads only the applications changed since its last run.',
  parent: perParent('applications', 'applicationId'),
  optIn: true,
  confidential: (record, ctx) => idIn(record, 'applicationId', ctx.applicationIds),
  confidentialAfter: ['applications'],
  changedParents: {
    fallback: { endpoint: 'application.info', field: 'applicationHistory' },
    rows: (applicationId, records) =>
      records.map((entry) =>
        entry !== null && typeof entry === 'object' && !Array.isArray(entry)
          ? {
              ...entry,
              applicationId,
              // Seconds from entering to leaving; null while the application is still in the stage.
              durationSeconds: secondsBetween(
                (entry as Record<string, unknown>).enteredStageAt,
                (entry as Record<string, unknown>).leftStageAt,
              ),
            }
          : entry,
      ),
  },
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
