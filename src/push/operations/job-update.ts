import type { Operation } from '../types.js';
import { JOB_STATUSES, type JobStatus, setJobStatus } from './job-status.js';
import { EXAMPLE_ID, id, text } from './shared.js';

const UPDATABLE = ['title', 'teamId', 'locationId', 'defaultInterviewPlanId', 'customRequisitionId'];

/** Update Job, and change its status through the documented transitions. */
export const jobUpdate: Operation = {
  name: 'job.update',
  title: 'Update Job',
  kind: 'update',
  endpoints: ['job.update', 'job.info', 'job.setStatus'],
  description:
    'Updates a job; with status, moves it there via job.setStatus along the documented transitions (Draft→Open|Archived, Open→Closed, Closed→Draft|Archived, Archived→Draft).',
  fields: {
    jobId: id('Job to update', true),
    title: text('Job title'),
    teamId: id('Department (team)'),
    locationId: id('Location'),
    defaultInterviewPlanId: id('Interview plan'),
    customRequisitionId: text('Your requisition id'),
    status: { type: 'enum', values: JOB_STATUSES, description: 'Target status' },
  },
  example: { jobId: EXAMPLE_ID[0], title: 'Principal Engineer', status: 'Closed' },
  async execute(ctx) {
    const { record } = ctx;
    const jobId = String(record.jobId);
    const body: Record<string, unknown> = { jobId };
    for (const k of UPDATABLE) if (record[k] !== undefined) body[k] = record[k];
    if (Object.keys(body).length > 1) await ctx.write('job.update', body);
    const detail: Record<string, unknown> = {};
    if (record.status !== undefined)
      detail.statusPath = await setJobStatus(ctx, jobId, record.status as JobStatus);
    return { status: 'updated', id: jobId, detail };
  },
};
