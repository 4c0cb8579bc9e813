/**
 * Confidential access: records on confidential jobs, and what hangs off them, are invisible to keys
 * without "Allow access to confidential jobs and projects". Seeded records answer without being built.
 */
import type { SandboxKey } from '../context.js';
import type { Kind } from '../ids.js';
import { parseId } from '../ids.js';
import { jobOfApplication, type Seeded } from './relations.js';
import type { Rec } from './store.js';

/** What the rules read from the world. */
interface Confidentiality extends Seeded {
  isWritten(id: string): boolean;
}

/** Exactly 5 % of seeded jobs are confidential, job 1 first so that every scale has one. */
export function jobConfidential(job: number): boolean {
  return job % 20 === 1;
}

function jobIsConfidential(world: Confidentiality, jobId: string): boolean {
  if (!world.isWritten(jobId)) {
    const parsed = parseId(world.seed, jobId);
    if (parsed?.kind === 'job' && parsed.index < world.seeded('job')) return jobConfidential(parsed.index);
  }
  return world.get(jobId, 'job')?.confidential === true;
}

function applicationIsConfidential(world: Confidentiality, appId: string): boolean {
  if (!world.isWritten(appId)) {
    const parsed = parseId(world.seed, appId);
    if (parsed?.kind === 'application' && parsed.index < world.seeded('application')) {
      return jobConfidential(jobOfApplication(world, parsed.index));
    }
  }
  const app = world.get(appId, 'application');
  const job = app?.job as Rec | undefined;
  return typeof job?.id === 'string' && jobIsConfidential(world, job.id);
}

/** A candidate is hidden when it has applications and every one of them is on a confidential job. */
function candidateIsConfidential(world: Confidentiality, candidate: Rec): boolean {
  const apps = Array.isArray(candidate.applicationIds) ? candidate.applicationIds : [];
  if (apps.length === 0) return false;
  return apps.every((a) => typeof a === 'string' && applicationIsConfidential(world, a));
}

/** Whether a key without confidential access may see a record of `kind`. */
function visibleWithoutConfidential(world: Confidentiality, kind: string, rec: Rec): boolean {
  switch (kind) {
    case 'job':
      return rec.confidential !== true;
    case 'project':
      return rec.confidential !== true;
    case 'application':
      return !applicationIsConfidential(world, rec.id);
    case 'candidate':
      return !candidateIsConfidential(world, rec);
    case 'jobPosting':
      return typeof rec.jobId !== 'string' || !jobIsConfidential(world, rec.jobId);
    case 'opening': {
      const v = rec.latestVersion as Rec | undefined;
      const jobs = Array.isArray(v?.jobIds) ? v.jobIds : [];
      return jobs.length === 0 || jobs.some((j) => typeof j === 'string' && !jobIsConfidential(world, j));
    }
    case 'interview':
      return typeof rec.jobId !== 'string' || !jobIsConfidential(world, rec.jobId);
    case 'approval': {
      // The approved entity is an offer version; offer n's versions are numbered n as well.
      const version =
        typeof rec.entityId === 'string' ? world.indexOf(rec.entityId, 'offerVersion') : undefined;
      return version === undefined || visibleById(world, 'offer', world.id('offer', version));
    }
    case 'clientInfo':
      return (
        typeof rec.relatedEntityId !== 'string' || !applicationIsConfidential(world, rec.relatedEntityId)
      );
    default:
      if (typeof rec.applicationId === 'string') return !applicationIsConfidential(world, rec.applicationId);
      return true;
  }
}

function visibleById(world: Confidentiality, kind: Kind, id: string): boolean {
  const rec = world.get(id, kind);
  return rec !== undefined && visibleWithoutConfidential(world, kind, rec);
}

/** Whether a key may see a record (keys with confidential access see everything). */
export function visible(world: Confidentiality, key: SandboxKey, kind: string, rec: Rec): boolean {
  if (key.confidential) return true;
  return visibleWithoutConfidential(world, kind, rec);
}
