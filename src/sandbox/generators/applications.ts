/**
 * Applications and their history: the stages an application went through, its feedback and the AI
 * criteria evaluations of it.
 */
import { parseId } from '../ids.js';
import type { Rng } from '../prng.js';
import { longText } from '../text.js';
import {
  applicationStatus,
  candidateOfApplication,
  childrenOf,
  jobOfApplication,
  parentOf,
  planOfJob,
} from '../world/relations.js';
import type { Rec } from '../world/store.js';
import type { World } from '../world.js';
import { candidateSummary } from './candidates.js';
import { seededCustomFields } from './custom-fields.js';
import { formDefinition, STAGE_SLOTS, stageRecord, stagesOfPlan } from './interviews.js';
import { jobSummary } from './jobs.js';
import { ARCHIVE_REASON_COUNT, SOURCE_COUNT } from './metadata.js';
import { hiringTeam, userSummary } from './organization.js';
import { DAY, type Generator, iso, rngOf, time } from './shared.js';

/** The stage of a seeded application by its status: Lead first, Hired and Archived last. */
function stageOf(status: string, rng: Rng): number {
  if (status === 'Lead') return 0;
  if (status === 'Hired') return 5;
  if (status === 'Archived') return 6;
  return rng.int(1, 4);
}

export const application: Generator = {
  kind: 'application',
  count: ({ applications }) => applications,
  generate(world, index, id, rng) {
    const candidate = candidateOfApplication(world, index);
    const job = jobOfApplication(world, index);
    const status = applicationStatus(world, index);
    const k = stageOf(status, rng);
    const plan = planOfJob(world, job);
    const created = Math.max(
      time(world, 'application', index, rng),
      time(world, 'candidate', candidate, rngOf(world, 'candidate', candidate)),
    );
    const rec: Rec = {
      id,
      createdAt: iso(created),
      updatedAt: iso(created + rng.int(1, 120) * DAY),
      status,
      customFields: seededCustomFields(world, 'Application', rng),
      candidate: candidateSummary(world, world.id('candidate', candidate)),
      currentInterviewStage: stageRecord(world, plan, k),
      job: jobSummary(world, world.id('job', job)),
      hiringTeam: hiringTeam(world, job),
      ...(rng.chance(0.5) ? { appliedViaJobPostingId: world.id('jobPosting', job) } : {}),
    };
    const source = world.generate('source', rng.int(0, SOURCE_COUNT - 1));
    if (source) rec.source = source;
    if (status === 'Archived') {
      const reason = world.generate('archiveReason', rng.int(0, ARCHIVE_REASON_COUNT - 1));
      // The 2026 spec adds the archive reason's detail fields; the sandbox organisation has none set up.
      if (reason) rec.archiveReason = { ...reason, customFields: [] };
      rec.archivedAt = iso(created + rng.int(121, 200) * DAY);
    }
    if (rng.chance(0.2)) rec.creditedToUser = userSummary(world, rng.int(0, world.seeded('user') - 1));
    if (rec.appliedViaJobPostingId !== undefined) {
      // Applied through the job board: Ashby keeps the client the form was submitted from.
      const client = world.generate('clientInfo', index);
      if (client) {
        rec.submitterClientIp = client.ipAddress;
        rec.submitterUserAgent = client.userAgent;
      }
    }
    return rec;
  },
};

/** Stage history of an application, oldest first (application.listHistory). */
export function historyOf(world: World, app: Rec): Rec[] {
  const stage = app.currentInterviewStage as Rec | undefined;
  const order = typeof stage?.orderInInterviewPlan === 'number' ? stage.orderInInterviewPlan : 0;
  const planId = typeof stage?.interviewPlanId === 'string' ? stage.interviewPlanId : '';
  const stages = stagesOfPlan(world, planId);
  const start = Date.parse(String(app.createdAt));
  const steps = order === 6 ? [0, 1, 6] : Array.from({ length: order + 1 }, (_, i) => i);
  const parsed = parseId(world.seed, app.id);
  const base = (parsed?.index ?? 0) * STAGE_SLOTS;
  return steps.map((k, n) => {
    const s = stages[k];
    const entered = start + n * 3 * DAY;
    const entry: Rec = {
      id: world.id('applicationHistory', base + n),
      stageId: s?.id ?? '',
      title: typeof s?.title === 'string' ? s.title : '',
      enteredStageAt: iso(entered),
      stageNumber: n,
      allowedActions: n === 0 ? ['none'] : ['delete', 'set_entered_at'],
    };
    // Who moved the application: a user for every later stage; the first stage is where it was created.
    if (n > 0) entry.actorId = world.id('user', (base + n) % world.seeded('user'));
    if (n < steps.length - 1) entry.leftStageAt = iso(entered + 3 * DAY);
    return entry;
  });
}

/** AI criteria evaluations of an application (`application.listCriteriaEvaluations`): 0 to 2. */
export function criteriaEvaluationsOf(world: World, appId: string): Rec[] {
  const index = world.indexOf(appId, 'application');
  if (index === undefined || index >= world.seeded('application')) return [];
  const rng = rngOf(world, 'criteriaEvaluation', index);
  const n = index % 3;
  const out: Rec[] = [];
  for (let k = 0; k < n; k++) {
    const status = rng.pick(['Completed', 'Completed', 'Skipped', 'Pending']);
    const done = status === 'Completed';
    out.push({
      id: world.id('criteriaEvaluation', index * 2 + k),
      criterion: {
        id: world.id('criteriaEvaluation', 0x800000 + k),
        title: k === 0 ? 'Location' : 'Years of "relevant" experience',
        type: 'ResumePrompt',
        prompt:
          k === 0
            ? "Evaluate if the candidate's location aligns with the job requirements."
            : 'Does the résumé show 5+ years of relevant experience?',
        applicationFormDefinitionId: null,
        applicationFormFieldPath: null,
      },
      status,
      outcome: done ? rng.pick(['Meets', 'Does Not Meet']) : null,
      reasoning: done ? 'Stated on the résumé — see "Experience".' : null,
      skipReason: status === 'Skipped' ? 'NoResume' : null,
      outcomeNumber: done ? Math.round(rng.next() * 100) / 100 : null,
      evaluatedAt: done
        ? iso(time(world, 'application', index, rngOf(world, 'application', index)) + DAY)
        : null,
    });
  }
  return out;
}

export const applicationFeedback: Generator = {
  kind: 'applicationFeedback',
  count: ({ applications }) => Math.floor(applications * 0.5),
  generate(world, index, id, rng) {
    const app = parentOf(index, world.seeded('application'), world.seeded('applicationFeedback'));
    const form = index % world.seeded('feedbackFormDefinition');
    const submitted = time(world, 'application', app, rngOf(world, 'application', app)) + 10 * DAY;
    const rec: Rec = {
      id,
      formDefinition: formDefinition(world, 'feedback', form),
      submittedValues: {
        overall_recommendation: { score: rng.int(1, 4) },
        notes:
          index === 5
            ? longText('feedback')
            : rng.pick(['Strong hire.', '<b>Mixed</b> signals', 'Said "no" to \\ relocation', null]),
      },
      submittedByUser: userSummary(world, rng.int(0, world.seeded('user') - 1)),
      interviewId: world.id('interview', rng.int(0, world.seeded('interview') - 1)),
      feedbackFormDefinitionId: world.id('feedbackFormDefinition', form),
      applicationId: world.id('application', app),
      submittedAt: iso(submitted),
    };
    // Feedback is credited to whoever submitted it unless submitted on someone's behalf.
    rec.creditedToUser = rec.submittedByUser;
    const [firstSchedule, endSchedule] = childrenOf(
      app,
      world.seeded('application'),
      world.seeded('interviewSchedule'),
    );
    if (firstSchedule < endSchedule) rec.interviewEventId = world.id('interviewEvent', firstSchedule * 4);
    const appRec = world.get(world.id('application', app), 'application');
    const current = appRec ? historyOf(world, appRec).at(-1) : undefined;
    if (current) rec.applicationHistoryId = current.id;
    return rec;
  },
};

/**
 * An application as application.list and webhooks give it: without its stage history, which the list cannot expand
 * (its `expand` takes only `openings`); the world keeps the history that a stage change wrote on the
 * record for application.info and application.listHistory.
 */
export function listedApplication(app: Rec): Rec {
  if (!('applicationHistory' in app)) return app;
  const { applicationHistory: _history, ...listed } = app;
  return listed;
}
