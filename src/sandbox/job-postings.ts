/**
 * Job postings and the boards they are on. A posting is published while its job is open, and
 * `jobPosting.list` lists published postings only; `job.list` lists a job's unpublished posting ids only
 * with `includeUnpublishedJobPostingsIds`. Every published posting is on the primary external board
 * (board 0); every third is on the internal board too, where it has no external link and applies
 * internally (2026 spec: `jobBoardId`, `externalLink`).
 */
import type { RequestContext } from './context.js';
import { invalidInput, notFound } from './errors.js';
import { flag } from './lists.js';
import type { Rec } from './world.js';

/** A job posting is published while its job is open. */
export function isPublished(ctx: RequestContext, posting: Rec): boolean {
  return typeof posting.jobId === 'string' && ctx.world.get(posting.jobId, 'job')?.status === 'Open';
}

/** The board of a `jobPosting.list` request: the primary external board (board 0) unless named. */
export function jobBoardOf(ctx: RequestContext): Rec {
  const id = ctx.body.jobBoardId;
  if (id === undefined || id === null) {
    const primary = ctx.world.get(ctx.world.id('jobBoard', 0), 'jobBoard');
    if (!primary) throw notFound('job_board');
    return primary;
  }
  if (typeof id !== 'string') throw invalidInput('"jobBoardId" must be a string');
  const board = ctx.world.get(id, 'jobBoard');
  if (!board) throw notFound('job_board');
  return board;
}

/** Every published posting is on the external board; every third is on the internal board too. */
export function onBoard(board: Rec, posting: Rec, ctx: RequestContext): boolean {
  if (board.isInternal !== true) return true;
  return (ctx.world.indexOf(posting.id, 'jobPosting') ?? 1) % 3 === 0;
}

/** A posting as one board shows it: an internal board has no external link and applies internally. */
export function postingOnBoard(board: Rec, posting: Rec): Rec {
  if (board.isInternal !== true) return posting;
  const { externalLink: _external, ...rest } = posting;
  return { ...rest, applyLink: `https://app.ashbyhq.com/internal-jobs/${posting.id}/application` };
}

/** `jobPostingIds` lists published postings only, unless `includeUnpublishedJobPostingsIds`. */
export function postingIdsFor(job: Rec, ctx: RequestContext): Rec {
  if (flag(ctx, 'includeUnpublishedJobPostingsIds') === true || !Array.isArray(job.jobPostingIds)) return job;
  const published = (job.jobPostingIds as unknown[]).filter((id) => {
    const posting = typeof id === 'string' ? ctx.world.get(id, 'jobPosting') : undefined;
    return posting !== undefined && isPublished(ctx, posting);
  });
  return { ...job, jobPostingIds: published };
}
