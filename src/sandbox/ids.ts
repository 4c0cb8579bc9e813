import { hash32, mix32 } from './prng.js';

/**
 * Every object kind the sandbox stores. The position in this list is the kind's code inside its ids, so
 * only append to it.
 */
export const KINDS = [
  'candidate',
  'application',
  'job',
  'user',
  'department',
  'location',
  'source',
  'sourceType',
  'archiveReason',
  'candidateTag',
  'customField',
  'interviewPlan',
  'interviewStage',
  'interviewStageGroup',
  'interview',
  'interviewSchedule',
  'interviewEvent',
  'applicationFeedback',
  'offer',
  'offerVersion',
  'offerProcess',
  'offerForm',
  'opening',
  'openingVersion',
  'jobPosting',
  'jobBoard',
  'project',
  'note',
  'applicationHistory',
  'approval',
  'hiringTeamRole',
  'jobTemplate',
  'surveyFormDefinition',
  'surveyRequest',
  'surveySubmission',
  'interviewerPool',
  'sourceTrackingLink',
  'feedbackFormDefinition',
  'webhook',
  'file',
  'brand',
  'closeReason',
  'communicationTemplate',
  'clientInfo',
  'criteriaEvaluation',
] as const;

export type Kind = (typeof KINDS)[number];

const CODE = new Map<string, number>(KINDS.map((k, i) => [k, i]));

function hex(value: number, digits: number): string {
  return (value >>> 0).toString(16).padStart(8, '0').slice(-digits);
}

/**
 * The id of record `index` of `kind`. It is a valid v4-shaped UUID that carries the kind and index, so a
 * lookup by id costs O(1) without any index; the hash parts tie it to the seed, so ids from another seed
 * are simply unknown.
 */
export function idFor(seed: number, kind: Kind, index: number): string {
  const code = CODE.get(kind) ?? 0;
  const h1 = hash32(`${kind}:${index}`, seed);
  const h2 = mix32(h1 ^ index);
  const lo = (index % 0x1000000) ^ (h1 & 0xffffff);
  const hi = Math.floor(index / 0x1000000) ^ (h2 & 0xffffff);
  return `${hex(h1, 8)}-${hex(code, 4)}-4${hex(h2, 3)}-${(8 + ((h2 >>> 12) & 3)).toString(16)}${hex(h2 >>> 16, 3)}-${hex(hi, 6)}${hex(lo, 6)}`;
}

const ID_SHAPE = /^([0-9a-f]{8})-([0-9a-f]{4})-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-([0-9a-f]{6})([0-9a-f]{6})$/;

/** The (kind, index) an id stands for, or `undefined` for an id this sandbox never issued. */
export function parseId(seed: number, id: string): { kind: Kind; index: number } | undefined {
  const m = ID_SHAPE.exec(id);
  if (!m) return undefined;
  const kind = KINDS[Number.parseInt(m[2] ?? '', 16)];
  if (!kind) return undefined;
  const h1 = Number.parseInt(m[1] ?? '', 16);
  const lo = Number.parseInt(m[4] ?? '', 16) ^ (h1 & 0xffffff);
  // The high half was masked with a hash of the index itself; recover it by trying the unmasked value
  // against the candidates that reproduce the same id (indexes stay far below 2^24 * 2^24).
  const hiMasked = Number.parseInt(m[3] ?? '', 16);
  for (let hi = 0; hi < 64; hi++) {
    const index = hi * 0x1000000 + lo;
    if (((mix32(h1 ^ index) & 0xffffff) ^ hi) === hiMasked && idFor(seed, kind, index) === id) {
      return { kind, index };
    }
  }
  return undefined;
}

/** True when `value` looks like a UUID (any version), as Ashby's validation requires. */
export function isUuid(value: unknown): value is string {
  return (
    typeof value === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)
  );
}
