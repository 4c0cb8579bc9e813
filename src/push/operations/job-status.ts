import type { OperationContext } from '../types.js';
import { RecordRejectedError } from './shared.js';

export const JOB_STATUSES = ['Draft', 'Open', 'Closed', 'Archived'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** The transitions `job.setStatus` allows, as Ashby documents them. */
const JOB_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  Draft: ['Open', 'Archived'],
  Open: ['Closed'],
  Closed: ['Draft', 'Archived'],
  Archived: ['Draft'],
};

/** Shortest chain of documented transitions from `from` to `to` (empty when equal). */
export function statusPath(from: JobStatus, to: JobStatus): JobStatus[] | undefined {
  if (from === to) return [];
  const previous = new Map<JobStatus, JobStatus>();
  const queue: JobStatus[] = [from];
  while (queue.length > 0) {
    const s = queue.shift() as JobStatus;
    for (const next of JOB_TRANSITIONS[s]) {
      if (next === from || previous.has(next)) continue;
      previous.set(next, s);
      if (next === to) {
        const path: JobStatus[] = [to];
        let cur = s;
        while (cur !== from) {
          path.unshift(cur);
          cur = previous.get(cur) as JobStatus;
        }
        return path;
      }
      queue.push(next);
    }
  }
  return undefined;
}

/**
 * Moves a job to `target` through documented transitions only (Open → Draft goes through Closed).
 * Reads the current status first, so a re-send after a crash continues from where the job is.
 */
export async function setJobStatus(
  ctx: OperationContext,
  jobId: string,
  target: JobStatus,
): Promise<JobStatus[]> {
  const job = await ctx.read<{ status?: string }>('job.info', { id: jobId });
  const current = (JOB_STATUSES as readonly string[]).includes(job?.status ?? '')
    ? (job.status as JobStatus)
    : undefined;
  if (current === undefined)
    throw new RecordRejectedError('job_status_unknown', `job ${jobId} has no readable status`, 'jobId');
  const path = statusPath(current, target);
  if (path === undefined)
    throw new RecordRejectedError(
      'invalid_status_transition',
      `job ${jobId} cannot go from ${current} to ${target}`,
      'status',
    );
  for (const status of path)
    await ctx.write('job.setStatus', { jobId, status }, { step: `job.setStatus:${status}` });
  return path;
}
