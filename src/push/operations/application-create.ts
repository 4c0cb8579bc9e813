import type { Operation, OperationContext } from '../types.js';
import { EXAMPLE_ID, id, oneOfCandidate, resolveCandidateId, type WithId } from './shared.js';

interface Application extends WithId {
  job?: { id?: string };
  jobId?: string;
}

/** Applications of a candidate for a job: the natural key of an application is (candidate, job). */
async function applicationsFor(ctx: OperationContext, candidateId: string, jobId: string): Promise<string[]> {
  const candidate = await ctx.read<{ applicationIds?: string[] }>('candidate.info', { id: candidateId });
  const ids = Array.isArray(candidate?.applicationIds) ? candidate.applicationIds : [];
  const matches: string[] = [];
  for (const applicationId of ids) {
    const app = await ctx.read<Application>('application.info', { applicationId });
    if ((app?.job?.id ?? app?.jobId) === jobId) matches.push(applicationId);
  }
  return matches;
}

/** Create Application; an existing application of the candidate for the job is reported, not duplicated. */
export const applicationCreate: Operation = {
  name: 'application.create',
  title: 'Create Application',
  kind: 'create',
  endpoints: ['candidate.search', 'candidate.info', 'application.info', 'application.create'],
  description:
    'Applies a candidate (by candidateId or candidateEmail) to a job. An application of that candidate for that job is reported as skipped-existing.',
  fields: {
    candidateId: id('Candidate applying'),
    candidateEmail: { type: 'email', description: 'Or: the candidate with this email' },
    jobId: id('Job applied to', true),
    interviewPlanId: id('Interview plan (default: the job’s)'),
    interviewStageId: {
      type: 'string',
      description: 'Stage id, or "FirstPreInterviewScreen" (default: first Lead stage)',
    },
    sourceId: id('Source'),
    creditedToUserId: id('User credited'),
    createdAt: { type: 'datetime', description: 'When the application was made' },
  },
  example: { candidateEmail: 'ada@example.com', jobId: EXAMPLE_ID[1], sourceId: EXAMPLE_ID[2] },
  check(record) {
    const issues = oneOfCandidate(record);
    const stage = record.interviewStageId;
    if (
      typeof stage === 'string' &&
      stage !== 'FirstPreInterviewScreen' &&
      !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(stage)
    )
      issues.push({
        path: 'interviewStageId',
        reason: 'must be a stage id (UUID) or "FirstPreInterviewScreen"',
      });
    return issues;
  },
  naturalKey: (record) =>
    `${typeof record.candidateId === 'string' ? record.candidateId : `email:${String(record.candidateEmail).trim().toLowerCase()}`}|${String(record.jobId)}`,
  async lookUp(ctx) {
    return applicationsFor(ctx, await resolveCandidateId(ctx), String(ctx.record.jobId));
  },
  async execute(ctx) {
    const candidateId = await resolveCandidateId(ctx);
    const jobId = String(ctx.record.jobId);
    const existing = await applicationsFor(ctx, candidateId, jobId);
    if (existing[0]) {
      // After an unknown outcome, an application that appeared since is the one we sent.
      const before = new Set(
        Array.isArray(ctx.resume.data.before) ? (ctx.resume.data.before as string[]) : [],
      );
      const ours = ctx.resume.reconciling ? existing.find((a) => !before.has(a)) : undefined;
      if (ours) return { status: 'created', id: ours, reconciled: true };
      return { status: 'skipped-existing', id: existing[0] };
    }
    const { candidateEmail: _email, ...rest } = ctx.record;
    const created = await ctx.write<WithId>(
      'application.create',
      { ...rest, candidateId },
      { data: { before: existing } },
    );
    return { status: 'created', id: created.id };
  },
};
