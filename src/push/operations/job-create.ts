import type { Operation, OperationContext } from '../types.js';
import { JOB_STATUSES, type JobStatus, setJobStatus } from './job-status.js';
import { EXAMPLE_ID, id, readList, savedIds, text, type WithId } from './shared.js';

interface Job extends WithId {
  title?: string;
  customRequisitionId?: string | null;
}

async function sameJobs(ctx: OperationContext): Promise<Job[]> {
  const { title, customRequisitionId } = ctx.record;
  return (await readList<Job>(ctx, 'job.search', { title })).filter(
    (j) =>
      j.title === title &&
      (customRequisitionId === undefined ||
        j.customRequisitionId == null ||
        j.customRequisitionId === customRequisitionId),
  );
}

/**
 * Create Job; a requisition id is set with `job.update` and a status with `job.setStatus` afterwards,
 * each a step of its own so that a rerun continues after the last one done.
 */
export const jobCreate: Operation = {
  name: 'job.create',
  title: 'Create Job',
  kind: 'create',
  endpoints: ['job.search', 'job.create', 'job.update', 'job.info', 'job.setStatus'],
  description:
    'Creates a job (a Draft). Optional customRequisitionId is set with job.update, optional status with job.setStatus. Natural key: title + requisition id.',
  fields: {
    title: text('Job title', true),
    teamId: id('Department (team) of the job', true),
    locationId: id('Location of the job', true),
    defaultInterviewPlanId: id('Interview plan'),
    jobTemplateId: id('Job template to start from'),
    customRequisitionId: text('Your requisition id'),
    status: {
      type: 'enum',
      values: JOB_STATUSES,
      description: 'Status to move the new job to (it starts as Draft)',
    },
  },
  example: {
    title: 'Staff Engineer',
    teamId: EXAMPLE_ID[0],
    locationId: EXAMPLE_ID[1],
    customRequisitionId: 'REQ-42',
    status: 'Open',
  },
  // Title only: look-ups find jobs by title, whatever the requisition id.
  naturalKey: (record) => `title:${String(record.title)}`,
  lookUp: async (ctx) => (await sameJobs(ctx)).map((j) => j.id),
  async execute(ctx) {
    const { record } = ctx;
    let jobId = typeof ctx.resume.data.jobId === 'string' ? ctx.resume.data.jobId : undefined;
    let reconciled = false;
    if (jobId === undefined && ctx.resume.reconciling && ctx.resume.step === 'job.create') {
      const before = savedIds(ctx);
      const appeared = (await sameJobs(ctx)).filter((j) => !before.has(j.id));
      if (appeared[0]) {
        jobId = appeared[0].id;
        reconciled = true;
      }
    }
    if (jobId === undefined) {
      const before = ctx.dryRun ? [] : (await sameJobs(ctx)).map((j) => j.id);
      const body = { title: record.title, teamId: record.teamId, locationId: record.locationId } as Record<
        string,
        unknown
      >;
      for (const k of ['defaultInterviewPlanId', 'jobTemplateId'])
        if (record[k] !== undefined) body[k] = record[k];
      const created = await ctx.write<Job>('job.create', body, { data: { before } });
      jobId = created.id;
    }
    await ctx.checkpoint('job.created', { jobId });
    if (record.customRequisitionId !== undefined && ctx.resume.data.requisitionSet !== true) {
      await ctx.write(
        'job.update',
        { jobId, customRequisitionId: record.customRequisitionId },
        { step: 'job.update' },
      );
      await ctx.checkpoint('job.requisition', { jobId, requisitionSet: true });
    }
    if (record.status !== undefined) await setJobStatus(ctx, jobId, record.status as JobStatus);
    return { status: 'created', id: jobId, ...(reconciled ? { reconciled } : {}) };
  },
};
