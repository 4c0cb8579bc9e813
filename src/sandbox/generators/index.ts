/**
 * Every kind of seeded record: how many a scale implies and how record `index` is built. Records are
 * pure functions of (seed, kind, index). Adding a kind: one entry in its family's file, one line here.
 */
import type { Kind } from '../ids.js';
import { application, applicationFeedback } from './applications.js';
import { candidate, candidateTag, clientInfo, note, project } from './candidates.js';
import { customField } from './custom-fields.js';
import {
  feedbackFormDefinition,
  interview,
  interviewEvent,
  interviewerPool,
  interviewPlan,
  interviewSchedule,
  interviewStage,
  interviewStageGroup,
} from './interviews.js';
import { job, jobBoard, jobPosting, jobTemplate, opening } from './jobs.js';
import {
  archiveReason,
  brand,
  closeReason,
  communicationTemplate,
  source,
  sourceTrackingLink,
  sourceType,
} from './metadata.js';
import { approval, offer } from './offers.js';
import { department, hiringTeamRole, location, user } from './organization.js';
import type { Generator } from './shared.js';
import { surveyFormDefinition, surveyRequest, surveySubmission } from './surveys.js';

const REGISTRY: readonly Generator[] = [
  user,
  department,
  location,
  hiringTeamRole,
  job,
  jobPosting,
  jobBoard,
  jobTemplate,
  opening,
  candidate,
  note,
  clientInfo,
  candidateTag,
  project,
  application,
  applicationFeedback,
  offer,
  approval,
  interviewSchedule,
  interviewEvent,
  interview,
  interviewPlan,
  interviewStage,
  interviewStageGroup,
  interviewerPool,
  feedbackFormDefinition,
  surveyFormDefinition,
  surveyRequest,
  surveySubmission,
  source,
  sourceType,
  sourceTrackingLink,
  archiveReason,
  customField,
  closeReason,
  brand,
  communicationTemplate,
];

/** The generator of each kind that has seeded records. */
export const GENERATORS: ReadonlyMap<Kind, Generator> = new Map(REGISTRY.map((g) => [g.kind, g]));

/** How many seeded records of each kind a scale (number of candidates) implies. */
export function countsFor(scale: number): Partial<Record<Kind, number>> {
  const candidates = Math.max(0, Math.floor(scale));
  const applications = Math.round(candidates * 1.3);
  const jobs = Math.max(5, Math.floor(candidates / 50));
  const counts: Partial<Record<Kind, number>> = {};
  for (const g of REGISTRY) if (g.count) counts[g.kind] = g.count({ candidates, applications, jobs });
  return counts;
}
