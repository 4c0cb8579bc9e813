/**
 * Jobs and what advertises or fills them: job postings (seeded posting i is job i's), job boards, job
 * templates and openings (seeded opening i belongs to job i).
 */
import { JOB_TITLES, longText } from '../text.js';
import { jobConfidential } from '../world/confidential.js';
import { brandOfJob, jobStatus, planOfJob } from '../world/relations.js';
import type { Rec } from '../world/store.js';
import type { World } from '../world.js';
import { seededCustomFields } from './custom-fields.js';
import { hiringTeam, offices, userSummary } from './organization.js';
import { createdAndUpdated, DAY, type Generator, iso, rngOf, time } from './shared.js';

export const job: Generator = {
  kind: 'job',
  count: ({ jobs }) => jobs,
  generate(world, index, id, rng) {
    const status = jobStatus(world, index);
    const created = time(world, 'job', index, rng);
    const plan = planOfJob(world, index);
    const rec: Rec = {
      id,
      title: `${rng.pick(JOB_TITLES)}${index === 1 ? ' (Confidential: CEO search)' : ''}`,
      confidential: jobConfidential(index),
      status,
      employmentType: rng.pick(['FullTime', 'FullTime', 'PartTime', 'Contract', 'Intern']),
      locationId: world.id('location', rng.int(0, offices(world) - 1)),
      departmentId: world.id('department', rng.int(0, world.seeded('department') - 1)),
      defaultInterviewPlanId: world.id('interviewPlan', plan),
      interviewPlanIds: [world.id('interviewPlan', plan)],
      customFields: seededCustomFields(world, 'Job', rng),
      jobPostingIds: [world.id('jobPosting', index)],
      ...(rng.chance(0.5) ? { customRequisitionId: `REQ-${1000 + index}` } : {}),
      brandId: brandOfJob(world, index),
      hiringTeam: hiringTeam(world, index),
      author: userSummary(world, index % world.seeded('user')),
      createdAt: iso(created),
      updatedAt: iso(created + rng.int(1, 60) * DAY),
    };
    if (status !== 'Draft') rec.openedAt = iso(created + DAY);
    if (status === 'Closed' || status === 'Archived') rec.closedAt = iso(created + rng.int(30, 200) * DAY);
    return rec;
  },
};

/** A job embedded in an application. */
export function jobSummary(world: World, jobId: string): Rec {
  const job = world.get(jobId, 'job');
  const out: Rec = { id: jobId, title: typeof job?.title === 'string' ? job.title : '' };
  if (typeof job?.locationId === 'string') out.locationId = job.locationId;
  if (typeof job?.departmentId === 'string') out.departmentId = job.departmentId;
  if (typeof job?.brandId === 'string') out.brandId = job.brandId;
  return out;
}

export const opening: Generator = {
  kind: 'opening',
  count: ({ jobs }) => jobs,
  generate(world, index, id, rng) {
    const status = jobStatus(world, index);
    const created = time(world, 'job', index, rngOf(world, 'job', index));
    const state = status === 'Draft' ? 'Draft' : status === 'Open' ? 'Open' : rng.pick(['Closed', 'Filled']);
    const job = world.get(world.id('job', index), 'job');
    const rec: Rec = {
      id,
      openedAt: iso(created + DAY),
      isArchived: status === 'Archived',
      openingState: state,
      latestVersion: {
        id: world.id('openingVersion', index),
        identifier: `OPEN-${index}`,
        description: index === 0 ? longText('opening') : 'Backfill or new headcount.',
        authorId: world.id('user', index % world.seeded('user')),
        createdAt: iso(created),
        teamId: typeof job?.departmentId === 'string' ? job.departmentId : world.id('department', 0),
        jobIds: [world.id('job', index)],
        targetHireDate: new Date(created + 60 * DAY).toISOString().slice(0, 10),
        targetStartDate: new Date(created + 90 * DAY).toISOString().slice(0, 10),
        isBackfill: rng.chance(0.2),
        employmentType: 'FullTime',
        locationIds: typeof job?.locationId === 'string' ? [job.locationId] : [],
        hiringTeam: hiringTeam(world, index),
        customFields: seededCustomFields(world, 'Opening', rng),
      },
    };
    if (state === 'Closed' || state === 'Filled') {
      rec.closedAt = iso(created + 90 * DAY);
      // The close reasons before the last are live (the last is archived).
      rec.closeReasonId = world.id('closeReason', index % Math.max(1, world.seeded('closeReason') - 1));
    }
    if (rec.isArchived) rec.archivedAt = iso(created + 120 * DAY);
    return rec;
  },
};

export const jobPosting: Generator = {
  kind: 'jobPosting',
  count: ({ jobs }) => jobs,
  generate(world, index, id, rng) {
    const job = world.get(world.id('job', index), 'job');
    const location = typeof job?.locationId === 'string' ? world.get(job.locationId, 'location') : undefined;
    const department =
      typeof job?.departmentId === 'string' ? world.get(job.departmentId, 'department') : undefined;
    const created = time(world, 'job', index, rngOf(world, 'job', index));
    const workplace = typeof location?.workplaceType === 'string' ? location.workplaceType : undefined;
    return {
      id,
      title: typeof job?.title === 'string' ? job.title : '',
      jobId: world.id('job', index),
      departmentName: typeof department?.name === 'string' ? department.name : '',
      teamName: typeof department?.name === 'string' ? department.name : '',
      locationName: typeof location?.name === 'string' ? location.name : '',
      locationIds: {
        primaryLocationId: typeof job?.locationId === 'string' ? job.locationId : world.id('location', 0),
        secondaryLocationIds: [],
      },
      ...(typeof location?.externalName === 'string' ? { locationExternalName: location.externalName } : {}),
      ...(workplace ? { workplaceType: workplace } : {}),
      employmentType: typeof job?.employmentType === 'string' ? job.employmentType : 'FullTime',
      isListed: job?.status === 'Open' && !job.confidential,
      publishedDate: new Date(created + DAY).toISOString().slice(0, 10),
      ...(index % 3 === 0 ? { applicationDeadline: iso(created + 90 * DAY) } : {}),
      externalLink: `https://jobs.ashbyhq.com/sandbox/${id}`,
      applyLink: `https://jobs.ashbyhq.com/sandbox/${id}/application`,
      ...(rng.chance(0.5) ? { compensationTierSummary: '$120K – $160K • Offers Equity' } : {}),
      shouldDisplayCompensationOnJobBoard: rng.chance(0.5),
      updatedAt: iso(created + 2 * DAY),
    };
  },
};

/** The primary external board (0) and an internal board (1). */
export const jobBoard: Generator = {
  kind: 'jobBoard',
  count: () => 2,
  generate: (_world, index, id) => ({
    id,
    title: index === 0 ? 'Careers site' : 'Internal board',
    isInternal: index === 1,
  }),
};

export const jobTemplate: Generator = {
  kind: 'jobTemplate',
  count: () => 5,
  generate: (world, index, id, rng) => ({
    id,
    title: `${JOB_TITLES[index % JOB_TITLES.length]} template`,
    // jobTemplate.list returns active and inactive templates (2026 spec); the last one is inactive.
    status: index === 4 ? 'Inactive' : 'Active',
    departmentId: world.id('department', index % world.seeded('department')),
    locationId: world.id('location', index % offices(world)),
    defaultInterviewPlanId: world.id('interviewPlan', planOfJob(world, index)),
    interviewPlanIds: [world.id('interviewPlan', planOfJob(world, index))],
    employmentType: 'FullTime',
    ...createdAndUpdated(world, 'jobTemplate', index, rng),
  }),
};
