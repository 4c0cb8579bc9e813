/**
 * Interview plans and their stages, interviews, schedules and their events, interviewer pools and
 * feedback forms, as the 2026 spec shapes them.
 * - An interview without a `jobId` is shared (usable for every job); `interview.list` returns only shared
 *   ones unless asked for `includeNonSharedInterviews`.
 * - An event's `interviewers` are users with their training role on the event (`Shadow`,
 *   `Reverse-Shadow`, or null when qualified), the pool they interview from and whether their feedback is
 *   required; `interviewerUserIds` (deprecated) lists the same users.
 * - A pool's training path has stages; archived stages are returned only with
 *   `includeArchivedTrainingStages`.
 */
import { parseId } from '../ids.js';
import { eventsPerSchedule, parentOf } from '../world/relations.js';
import type { Rec } from '../world/store.js';
import type { World } from '../world.js';
import { organizationId, userSummary } from './organization.js';
import { createdAndUpdated, DAY, type Generator, iso, rngOf, time } from './shared.js';

/** Stage template of every interview plan: title, type. */
const STAGES: ReadonlyArray<readonly [string, string]> = [
  ['Lead', 'Lead'],
  ['Application Review', 'PreInterviewScreen'],
  ['Phone Screen', 'Active'],
  ['Onsite — "Final" round', 'Active'],
  ['Offer', 'Offer'],
  ['Hired', 'Hired'],
  ['Archived', 'Archived'],
];
/** Stage ids reserved per plan (and history entries per application), so that ids stay put if stages are added. */
export const STAGE_SLOTS = 8;

const INTERVIEW_KINDS = ['Technical', 'Culture', 'System design', 'Hiring manager', 'Take-home review'];
const POOL_NAMES = ['Backend', 'Frontend', 'Leadership', 'Bar raiser', 'Ünïcødé'];

export const interviewPlan: Generator = {
  kind: 'interviewPlan',
  // One more than the jobs use: the last plan is archived and on no job.
  count: ({ jobs }) => Math.max(3, Math.ceil(jobs / 4)) + 1,
  generate: (world, index, id, rng) => ({
    id,
    title: `Interview plan ${index}${index === 1 ? ' (ｆｕｌｌｗｉｄｔｈ)' : ''}`,
    isArchived: index % 7 === 6 || index === world.seeded('interviewPlan') - 1,
    ...createdAndUpdated(world, 'interviewPlan', index, rng),
  }),
};

/** Stage k of plan p is record p × {@link STAGE_SLOTS} + k; stages live inside plans only. */
export const interviewStage: Generator = {
  kind: 'interviewStage',
  generate(world, index, id) {
    const plan = Math.floor(index / STAGE_SLOTS);
    const k = index % STAGE_SLOTS;
    const [title, type] = STAGES[k] ?? ['Stage', 'Active'];
    return {
      id,
      title,
      type,
      orderInInterviewPlan: k,
      interviewStageGroupId: world.id('interviewStageGroup', Math.min(3, Math.floor(k / 2))),
      interviewPlanId: world.id('interviewPlan', plan),
    };
  },
};

export function stageRecord(world: World, plan: number, k: number): Rec {
  return world.generate('interviewStage', plan * STAGE_SLOTS + k) as Rec;
}

/** The stages of a seeded plan, in order; none for any other id. */
export function stagesOfPlan(world: World, planId: string): Rec[] {
  const parsed = parseId(world.seed, planId);
  if (parsed?.kind !== 'interviewPlan' || parsed.index >= world.seeded('interviewPlan')) return [];
  return STAGES.map((_, k) => stageRecord(world, parsed.index, k));
}

export const interviewStageGroup: Generator = {
  kind: 'interviewStageGroup',
  count: () => 4,
  generate: (_world, index, id) => ({
    id,
    title: ['Lead', 'Screening', 'Interviewing', 'Decision'][index] ?? 'Group',
    order: index,
    stageType: ['Lead', 'PreInterviewScreen', 'Active', 'Offer'][index] ?? 'Active',
  }),
};

/** Every fourth interview is shared; interview 3 is archived at every scale. */
export const interview: Generator = {
  kind: 'interview',
  count: ({ jobs }) => jobs * 2,
  generate(world, index, id, rng) {
    const kind = rng.pick(INTERVIEW_KINDS);
    const archived = rng.chance(0.05) || index === 3;
    const debrief = index % 10 === 9;
    return {
      id,
      title: `${kind} interview #${index}`,
      ...(index % 3 === 0 ? { externalTitle: `${kind} interview` } : {}),
      isArchived: archived,
      isDebrief: debrief,
      isFeedbackRequired: !debrief,
      isFeedbackRequested: true,
      instructionsHtml: '<p>Be kind &amp; curious. <b>No</b> trick questions.</p>',
      instructionsPlain: 'Be kind & curious. No trick questions.',
      ...(index % 4 === 0 ? {} : { jobId: world.id('job', Math.floor(index / 2)) }),
      feedbackFormDefinitionId: world.id(
        'feedbackFormDefinition',
        index % world.seeded('feedbackFormDefinition'),
      ),
    };
  },
};

export const interviewSchedule: Generator = {
  kind: 'interviewSchedule',
  count: ({ applications }) => Math.floor(applications * 0.4),
  generate(world, index, id, rng) {
    const app = parentOf(index, world.seeded('application'), world.seeded('interviewSchedule'));
    const appRec = world.get(world.id('application', app), 'application');
    const stage = appRec?.currentInterviewStage as Rec | undefined;
    const events: Rec[] = [];
    for (let k = 0; k < eventsPerSchedule(world, index); k++) {
      const ev = world.generate('interviewEvent', index * 4 + k);
      if (ev) events.push(ev);
    }
    const status = rng.pick(['Scheduled', 'Complete', 'WaitingOnFeedback', 'Cancelled', 'NeedsScheduling']);
    return {
      id,
      status,
      applicationId: world.id('application', app),
      interviewStageId: typeof stage?.id === 'string' ? stage.id : world.id('interviewStage', 0),
      // Who scheduled it; a schedule still waiting to be scheduled has nobody (left out).
      ...(status === 'NeedsScheduling'
        ? {}
        : { scheduledBy: userSummary(world, (index * 5) % world.seeded('user')) }),
      interviewEvents: events,
      createdAt: events[0]?.createdAt ?? iso(time(world, 'application', app, rng)),
      updatedAt: events[0]?.createdAt ?? iso(time(world, 'application', app, rng)),
    };
  },
};

/**
 * The interviewers of event `index`: the first is a qualified interviewer (`firstUser`), later ones shadow
 * or reverse-shadow from a pool and owe no feedback.
 */
function eventInterviewers(world: World, index: number, firstUser: number): Rec[] {
  const users = world.seeded('user');
  const pools = world.seeded('interviewerPool');
  const count = 1 + (index % 3);
  const out: Rec[] = [];
  for (let k = 0; k < count; k++) {
    const user = userSummary(world, (firstUser + k * 5) % users);
    const role = k === 0 ? null : k === 1 ? 'Shadow' : 'Reverse-Shadow';
    const pool =
      k === 0 && index % 2 === 0 ? undefined : world.get(world.id('interviewerPool', (index + k) % pools));
    out.push({
      ...user,
      trainingRole: role,
      interviewerPool: pool ?? null,
      isFeedbackRequired: role === null,
    });
  }
  return out;
}

/** Event k of schedule s is record s × 4 + k; events live inside their schedule only. */
export const interviewEvent: Generator = {
  kind: 'interviewEvent',
  generate(world, index, id, rng) {
    const schedule = Math.floor(index / 4);
    const app = parentOf(schedule, world.seeded('application'), world.seeded('interviewSchedule'));
    const start = time(world, 'application', app, rngOf(world, 'application', app)) + (7 + (index % 4)) * DAY;
    const interview = rng.int(0, world.seeded('interview') - 1);
    const interviewers = eventInterviewers(world, index, rng.int(0, world.seeded('user') - 1));
    return {
      id,
      interviewId: world.id('interview', interview),
      interviewScheduleId: world.id('interviewSchedule', schedule),
      interviewerUserIds: interviewers.map((u) => u.id),
      interviewers,
      createdAt: iso(start - 2 * DAY),
      updatedAt: iso(start - 2 * DAY),
      startTime: iso(start),
      endTime: iso(start + 3_600_000),
      feedbackLink: `https://app.ashbyhq.com/interview-briefings/${id}/feedback`,
      location: index % 3 === 0 ? 'Room "Ada" — 3rd floor' : 'Video call',
      meetingLink: `https://meet.example.com/${id.slice(0, 8)}`,
      interviewerCalendarEventId: `cal-${id.slice(0, 13)}`,
      // Recorded by the AI Notetaker add-on on some interviews only.
      notetakerTranscriptId: index % 5 === 0 ? world.id('interviewEvent', 0x700000 + index) : null,
      ...(index % 7 === 0 ? { extraData: { scheduler_booking_ref: `BK-${index}` } } : {}),
      hasSubmittedFeedback: rng.chance(0.6),
      interview: world.generate('interview', interview),
    };
  },
};

/** A pool with its training path: two stages, and an archived third on every other pool. */
export const interviewerPool: Generator = {
  kind: 'interviewerPool',
  count: () => 5,
  generate(world, index, id) {
    const users = world.seeded('user');
    const stage = (offset: number, role: string, required: number, approval: boolean, archived: boolean) => ({
      id: world.id('interviewerPool', offset + index),
      interviewerRole: role,
      interviewsRequired: required,
      isArchived: archived,
      approvalRequired: approval,
      ...(approval ? { approvers: [userSummary(world, (index * 3 + 1) % users)] } : {}),
    });
    return {
      id,
      title: `${POOL_NAMES[index] ?? 'Pool'} interviewers`,
      isArchived: index === 4,
      trainingPath: {
        id: world.id('interviewerPool', 1000 + index),
        enabled: index % 2 === 0,
        trainingStages: [
          stage(2000, 'Shadow', 2, false, false),
          stage(3000, 'ReverseShadow', 1, true, false),
          ...(index % 2 === 0 ? [stage(4000, 'Shadow', 3, false, true)] : []),
        ],
      },
    };
  },
};

/** The form of a feedback scorecard or a survey: a score, notes and a level. */
export function formDefinition(
  world: World,
  kind: 'feedback' | 'survey',
  index: number,
): Record<string, unknown> {
  return {
    sections: [
      {
        title: kind === 'feedback' ? 'Overall' : 'Your experience',
        descriptionHtml: '<p>Be specific.</p>',
        descriptionPlain: 'Be specific.',
        fields: [
          {
            isRequired: true,
            field: {
              id: world.id('feedbackFormDefinition', 100 + index),
              type: 'Score',
              path: 'overall_recommendation',
              humanReadablePath: 'Overall Recommendation',
              title: 'Overall Recommendation',
              isNullable: false,
            },
          },
          {
            isRequired: false,
            descriptionHtml: '<p>Anything else?</p>',
            descriptionPlain: 'Anything else?',
            field: {
              id: world.id('feedbackFormDefinition', 200 + index),
              type: 'RichText',
              path: 'notes',
              humanReadablePath: 'Notes',
              title: 'Notes',
              isNullable: true,
            },
          },
          {
            isRequired: false,
            field: {
              id: world.id('feedbackFormDefinition', 300 + index),
              type: 'ValueSelect',
              path: 'level',
              humanReadablePath: 'Level',
              title: 'Level',
              isNullable: true,
              selectableValues: [
                { label: 'Below the bar', value: 'below' },
                { label: 'At the bar', value: 'at' },
                { label: 'Raises the bar', value: 'above' },
              ],
            },
          },
        ],
      },
    ],
  };
}

export const feedbackFormDefinition: Generator = {
  kind: 'feedbackFormDefinition',
  count: () => 5,
  generate: (world, index, id) => ({
    id,
    title: ['Default scorecard', 'Technical', 'Culture "add"', 'Leadership', 'Take-home'][index] ?? 'Form',
    isArchived: index === 4,
    formDefinition: formDefinition(world, 'feedback', index),
    organizationId: organizationId(world),
    isDefaultForm: index === 0,
    ...(index === 0 ? {} : { interviewId: world.id('interview', index) }),
  }),
};
