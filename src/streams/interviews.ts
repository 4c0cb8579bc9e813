import { idIn } from './fields.js';
import { perParent, type StreamDefinition } from './types.js';

export const interviewSchedules: StreamDefinition = {
  name: 'interview_schedules',
  endpoint: 'interviewSchedule.list',
  primaryKey: ['id'],
  description: 'Interview schedules of applications, with their events.',
  confidential: (record, ctx) => idIn(record, 'applicationId', ctx.applicationIds),
  confidentialAfter: ['applications'],
};

export const interviews: StreamDefinition = {
  name: 'interviews',
  endpoint: 'interview.list',
  primaryKey: ['id'],
  description: 'Interview types, shared and job-specific.',
  body: ({ includeArchived }) => ({ includeArchived, includeNonSharedInterviews: true }),
  confidential: (record, ctx) => idIn(record, 'jobId', ctx.jobIds),
  confidentialAfter: ['jobs'],
};

export const interviewEvents: StreamDefinition = {
  name: 'interview_events',
  endpoint: 'interviewEvent.list',
  primaryKey: ['id'],
  description: 'Interview events (one meeting each) of every interview schedule.',
  parent: perParent('interview_schedules', 'interviewScheduleId'),
  optIn: true,
};

export const interviewPlans: StreamDefinition = {
  name: 'interview_plans',
  endpoint: 'interviewPlan.list',
  primaryKey: ['id'],
  description: 'Interview plans.',
  body: ({ includeArchived }) => ({ includeArchived }),
};

export const interviewStages: StreamDefinition = {
  name: 'interview_stages',
  endpoint: 'interviewStage.list',
  primaryKey: ['id'],
  description: 'Stages of every interview plan.',
  parent: perParent('interview_plans', 'interviewPlanId'),
};

export const interviewStageGroups: StreamDefinition = {
  name: 'interview_stage_groups',
  endpoint: 'interviewStageGroup.list',
  primaryKey: ['id'],
  description: 'Groups of interview stages.',
};

export const interviewerPools: StreamDefinition = {
  name: 'interviewer_pools',
  endpoint: 'interviewerPool.list',
  primaryKey: ['id'],
  description: 'Interviewer pools and their training paths.',
  body: ({ includeArchived }) => ({
    includeArchivedPools: includeArchived,
    includeArchivedTrainingStages: includeArchived,
  }),
};

export const feedbackFormDefinitions: StreamDefinition = {
  name: 'feedback_form_definitions',
  endpoint: 'feedbackFormDefinition.list',
  primaryKey: ['id'],
  description: 'Interview feedback forms.',
  body: ({ includeArchived }) => ({ includeArchived }),
};
