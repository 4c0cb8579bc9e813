/**
 * How seeded records hang together, computed rather than stored: children map to parents by proportion,
 * and facts other records depend on (a job's status, an application's job) are drawn from their own
 * random streams, so every relation costs O(1) at any scale and needs no index.
 */
import type { Kind } from '../ids.js';
import { rngFor } from '../prng.js';
import type { Rec } from './store.js';

/** What the relations read from the world. */
export interface Seeded {
  readonly seed: number;
  seeded(kind: Kind): number;
  id(kind: Kind, index: number): string;
  indexOf(id: string, kind: Kind): number | undefined;
  get(id: string, kind?: Kind): Rec | undefined;
  createdChildrenOf(kind: Kind, parentId: string): readonly string[];
  writtenIdsOf(kind: Kind): ReadonlySet<string>;
  addedProjectsOf(candidateId: string): readonly string[];
}

/** Maps children to parents by proportion, so both directions cost O(1) and need no index. */
export function parentOf(child: number, parents: number, children: number): number {
  return Math.floor((child * parents) / children);
}

/** The child positions [from, to) of one parent under {@link parentOf}. */
export function childrenOf(parent: number, parents: number, children: number): [number, number] {
  const from = Math.ceil((parent * children) / parents);
  const to = Math.ceil(((parent + 1) * children) / parents);
  return [from, Math.min(to, children)];
}

/** Ids of the children of one parent: the seeded share (by proportion), then those created under it. */
export function childIdsOf(world: Seeded, parentKind: Kind, kind: Kind, parentId: string): string[] {
  const ids: string[] = [];
  const parents = world.seeded(parentKind);
  const idx = world.indexOf(parentId, parentKind);
  if (idx !== undefined && idx < parents) {
    const [from, to] = childrenOf(idx, parents, world.seeded(kind));
    for (let i = from; i < to; i++) ids.push(world.id(kind, i));
  }
  ids.push(...world.createdChildrenOf(kind, parentId));
  return ids;
}

/** The seeded candidate of a seeded application. */
export function candidateOfApplication(world: Seeded, app: number): number {
  return parentOf(app, world.seeded('candidate'), world.seeded('application'));
}

/** Seeded application positions of a seeded candidate. */
export function applicationsOfCandidate(world: Seeded, candidate: number): [number, number] {
  return childrenOf(candidate, world.seeded('candidate'), world.seeded('application'));
}

/** The job a seeded application is on: never a Draft job. */
export function jobOfApplication(world: Seeded, app: number): number {
  const jobs = world.seeded('job');
  let j = Math.floor(rngFor(world.seed, 'application', app).next() * jobs);
  for (let n = 0; n < jobs && jobStatus(world, j) === 'Draft'; n++) j = (j + 1) % jobs;
  return j;
}

/** The status of a seeded job; jobs 0 to 3 cover every status at every scale. */
export function jobStatus(world: Pick<Seeded, 'seed'>, job: number): string {
  if (job < 4) return ['Open', 'Open', 'Closed', 'Draft'][job] ?? 'Open';
  const r = rngFor(world.seed, 'job', job).next();
  return r < 0.05 ? 'Draft' : r < 0.55 ? 'Open' : r < 0.85 ? 'Closed' : 'Archived';
}

/** The status of a seeded application: every twentieth, from the eighth, is hired (and has an offer). */
export function applicationStatus(world: Pick<Seeded, 'seed'>, app: number): string {
  if (app % 20 === 7) return 'Hired';
  const r = rngFor(world.seed, 'application', app + 0x200000).next();
  return r < 0.5 ? 'Active' : r < 0.85 ? 'Archived' : 'Lead';
}

/** The interview plan of a seeded job; the last plan is archived and on no job. */
export function planOfJob(world: Seeded, job: number): number {
  return job % (world.seeded('interviewPlan') - 1);
}

/** Every fourth job is advertised under the second brand. */
export function brandOfJob(world: Seeded, job: number): string {
  return world.id('brand', job % 4 === 3 && world.seeded('brand') > 1 ? 1 : 0);
}

/** Interview events of a seeded schedule: one to three. */
export function eventsPerSchedule(world: Pick<Seeded, 'seed'>, schedule: number): number {
  return 1 + (rngFor(world.seed, 'interviewSchedule', schedule).int(0, 9) % 3);
}

/** Project ids of a candidate: a seeded share plus those added through `candidate.addProject`. */
export function projectIdsOf(world: Seeded, candidateId: string): string[] {
  const ids: string[] = [];
  const index = world.indexOf(candidateId, 'candidate');
  const projects = world.seeded('project');
  // Every seventh seeded candidate sits in one sourcing project.
  if (index !== undefined && index < world.seeded('candidate') && projects > 0 && index % 7 === 3) {
    ids.push(world.id('project', Math.floor(index / 7) % projects));
  }
  for (const p of world.addedProjectsOf(candidateId)) if (!ids.includes(p)) ids.push(p);
  return ids;
}

/** Current openings whose latest version lists the job: seeded opening i belongs to job i. */
export function openingsOfJob(world: Seeded, jobId: string): Rec[] {
  const out: Rec[] = [];
  const ids = new Set(world.writtenIdsOf('opening'));
  const index = world.indexOf(jobId, 'job');
  if (index !== undefined && index < world.seeded('opening')) ids.add(world.id('opening', index));
  for (const id of ids) {
    const o = world.get(id, 'opening');
    const jobs = (o?.latestVersion as Rec | undefined)?.jobIds;
    if (o && Array.isArray(jobs) && jobs.includes(jobId)) out.push(o);
  }
  return out;
}
