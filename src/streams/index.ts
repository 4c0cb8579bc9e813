import { describeScope, getEndpoint } from '../ashby/catalogue.js';
import { closest } from '../util/similar.js';
import {
  applicationCriteriaEvaluations,
  applicationFeedback,
  applicationHiringTeamRoles,
  applicationHistory,
  applicationStageHistory,
  applications,
} from './applications.js';
import {
  candidateClientInfo,
  candidateFraudChecks,
  candidateNotes,
  candidates,
  candidateTags,
  projects,
} from './candidates.js';
import {
  feedbackFormDefinitions,
  interviewEvents,
  interviewerPools,
  interviewPlans,
  interviewSchedules,
  interviewStageGroups,
  interviewStages,
  interviews,
} from './interviews.js';
import { jobBoards, jobPostings, jobs, jobTemplates, openings } from './jobs.js';
import {
  archiveReasons,
  brands,
  closeReasons,
  communicationTemplates,
  customFields,
  sources,
  sourceTrackingLinks,
} from './metadata.js';
import { approvals, offers } from './offers.js';
import { departments, hiringTeamRoles, locations, userInterviewerPauses, users } from './organization.js';
import { surveyFormDefinitions, surveyRequests, surveySubmissions } from './surveys.js';
import type { ResolvedStream, StreamDefinition } from './types.js';

export type * from './types.js';

/** Every stream ashpipe syncs, parents before their children. Adding a stream: one file, one line here. */
const DEFINITIONS: readonly StreamDefinition[] = [
  users,
  userInterviewerPauses,
  departments,
  locations,
  hiringTeamRoles,
  jobs,
  jobPostings,
  jobBoards,
  jobTemplates,
  openings,
  candidates,
  candidateNotes,
  candidateClientInfo,
  candidateFraudChecks,
  candidateTags,
  projects,
  applications,
  applicationFeedback,
  applicationHistory,
  applicationStageHistory,
  applicationCriteriaEvaluations,
  applicationHiringTeamRoles,
  offers,
  approvals,
  interviewSchedules,
  interviewEvents,
  interviews,
  interviewPlans,
  interviewStages,
  interviewStageGroups,
  interviewerPools,
  feedbackFormDefinitions,
  surveyFormDefinitions,
  surveyRequests,
  surveySubmissions,
  sources,
  sourceTrackingLinks,
  archiveReasons,
  customFields,
  closeReasons,
  brands,
  communicationTemplates,
];

/**
 * Read list endpoints of the catalogue that no stream reads, and why. Everything else that lists is a
 * stream (a test keeps the two in step with the catalogue).
 */
export const NOT_SYNCED: Readonly<Record<string, string>> = {
  'assessment.list': 'implemented by an assessment partner, not by Ashby',
  'candidate.listProjects':
    'its records are projects that do not name the candidate, so a row per record cannot say who is in which project; the projects stream has every project',
  'feedbackSubmission.list':
    'added in 2026; neither the 2024 spec nor the API notes document its record shape (application_feedback has the feedback)',
};

function costOf(def: StreamDefinition, paginated: boolean): string {
  const perCall = paginated ? 'one request per 100 records' : 'one request';
  if (!def.parent) return perCall;
  if (def.parent.kind === 'values') {
    return `${perCall} for each of ${def.parent.values.length} ${def.parent.param} values`;
  }
  const singular = def.parent.stream.replace(/s$/, '').replace(/_/g, ' ');
  return `${perCall} for each ${singular} (${def.parent.stream} rows)`;
}

function resolve(def: StreamDefinition): ResolvedStream {
  const endpoint = getEndpoint(def.endpoint);
  if (endpoint.access !== 'read' || !endpoint.scope) {
    throw new Error(`stream ${def.name}: ${def.endpoint} is not a readable Ashby endpoint`);
  }
  const { label } = describeScope(endpoint.scope);
  return {
    ...def,
    // A child stream reads many small lists, one per parent: a token per parent is not worth keeping.
    // A changed-parents stream reads per parent too, but only the parents changed since its last pass.
    incremental: (endpoint.incremental && !def.parent) || def.changedParents !== undefined,
    paginated: endpoint.paginated,
    scope: endpoint.scope,
    permission: label,
    module: `${endpoint.scope} (${label})`,
    cost: costOf(def, endpoint.paginated),
  };
}

/** Every stream, resolved against the endpoint catalogue. */
export const STREAMS: readonly ResolvedStream[] = DEFINITIONS.map(resolve);

const byName = new Map(STREAMS.map((s) => [s.name, s]));

/** Looks a stream up by its table name. */
export function findStream(name: string): ResolvedStream | undefined {
  return byName.get(name);
}

/** What the user asked for on the command line. */
export interface StreamSelection {
  /**
   * Stream names to sync; `all` selects every stream, opt-in child streams included.
   * @default every stream except the opt-in ones
   * @example ['candidates', 'applications']
   */
  streams?: readonly string[];
  /**
   * Stream names to leave out.
   * @example ['candidate_notes']
   */
  excludeStreams?: readonly string[];
}

/** Thrown for an unknown stream name; the CLI turns it into a usage error. */
export class UnknownStreamError extends Error {
  override name = 'UnknownStreamError';
}

function check(names: readonly string[]): void {
  const unknown = names.filter((n) => n !== 'all' && !byName.has(n));
  if (unknown.length > 0) {
    const hints = unknown.flatMap((n) => {
      const near = closest(n, [...byName.keys()]);
      if (near.length === 0) return [];
      return [unknown.length === 1 ? near.join(' or ') : `${near.join(' or ')} for ${n}`];
    });
    throw new UnknownStreamError(
      `unknown stream${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}${hints.length > 0 ? `; did you mean ${hints.join(', ')}?` : ''} (run \`ashpipe streams\` for the list)`,
    );
  }
}

/** The streams to sync, in registry order (parents before children). */
export function selectStreams(selection: StreamSelection = {}): ResolvedStream[] {
  const wanted = selection.streams?.map((s) => s.trim()).filter(Boolean);
  const excluded = new Set(selection.excludeStreams?.map((s) => s.trim()).filter(Boolean) ?? []);
  check(wanted ?? []);
  check([...excluded]);
  const all = !wanted || wanted.length === 0 ? null : new Set(wanted);
  return STREAMS.filter((s) => {
    if (excluded.has(s.name)) return false;
    if (all === null) return !s.optIn;
    return all.has('all') || all.has(s.name);
  });
}

/** Splits a comma-separated list (`a,b , c`) into names. */
export function parseStreamList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
