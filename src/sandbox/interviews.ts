/**
 * Interviews, the interviewers of interview events and interviewer pools, as the 2026 spec shapes them.
 * - An interview without a `jobId` is shared (usable for every job); `interview.list` returns only shared
 *   ones unless asked for `includeNonSharedInterviews`.
 * - An event's `interviewers` are users with their training role on the event (`Shadow`,
 *   `Reverse-Shadow`, or null when qualified), the pool they interview from and whether their feedback is
 *   required; `interviewerUserIds` (deprecated) lists the same users.
 * - A pool's training path has stages; archived stages are returned only with
 *   `includeArchivedTrainingStages`.
 */
import type { Rng } from './prng.js';
import type { Rec, World } from './world.js';

const INTERVIEW_KINDS = ['Technical', 'Culture', 'System design', 'Hiring manager', 'Take-home review'];
const POOL_NAMES = ['Backend', 'Frontend', 'Leadership', 'Bar raiser', 'Ünïcødé'];

/** Every fourth interview is shared; interview 3 is archived at every scale. */
export function interviewRecord(world: World, index: number, id: string, rng: Rng): Rec {
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
}

/**
 * The interviewers of event `index`: the first is a qualified interviewer (`firstUser`), later ones shadow
 * or reverse-shadow from a pool and owe no feedback.
 */
export function eventInterviewers(world: World, index: number, firstUser: number): Rec[] {
  const users = world.seeded('user');
  const pools = world.seeded('interviewerPool');
  const count = 1 + (index % 3);
  const out: Rec[] = [];
  for (let k = 0; k < count; k++) {
    const user = world.userSummary((firstUser + k * 5) % users);
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

/** A pool with its training path: two stages, and an archived third on every other pool. */
export function interviewerPoolRecord(world: World, index: number, id: string): Rec {
  const users = world.seeded('user');
  const stage = (offset: number, role: string, required: number, approval: boolean, archived: boolean) => ({
    id: world.id('interviewerPool', offset + index),
    interviewerRole: role,
    interviewsRequired: required,
    isArchived: archived,
    approvalRequired: approval,
    ...(approval ? { approvers: [world.userSummary((index * 3 + 1) % users)] } : {}),
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
}
