import type { FieldDef } from '../fields.js';
import type { OperationContext } from '../types.js';

/** Ashby ids are UUIDs. */
export const id = (description: string, required = false): FieldDef => ({
  type: 'uuid',
  required,
  description,
});
export const text = (description: string, required = false): FieldDef => ({
  type: 'string',
  required,
  description,
});

/** Placeholder ids for examples. */
export const EXAMPLE_ID = [
  '3ae2b801-19f6-41ef-ad28-214bd731948f',
  '9d34f544-c150-4d70-91c7-e7e22f4b4d8e',
  'f5e3bd5c-0c1a-4b6b-9c52-8c4a6f3b2f11',
] as const;

/**
 * Code of a record whose write may have reached Ashby and cannot be looked up: it is quarantined and its
 * ledger entry stays in flight until a person replays it.
 */
export const OUTCOME_UNKNOWN = 'outcome_unknown';

/**
 * Ashby refused nothing yet, but the record cannot be applied (no candidate with that email, an offer field
 * the form does not have): quarantined with `code`.
 */
export class RecordRejectedError extends Error {
  override name = 'RecordRejectedError';
  constructor(
    readonly code: string,
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }
}

/** An object with a string id. */
export interface WithId {
  id: string;
  [key: string]: unknown;
}

export function idsOf(list: readonly WithId[]): string[] {
  return list.map((x) => x.id);
}

/** Ids saved before a create, so that reconciliation only accepts an object that appeared since. */
export function savedIds(ctx: OperationContext, name = 'before'): Set<string> {
  const v = ctx.resume.data[name];
  return new Set(Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
}

/** Drops `undefined` members so that bodies carry only what the record set. */
export function compact(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out;
}

export function pick(record: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of names) if (record[n] !== undefined) out[n] = record[n];
  return out;
}

/** A list look-up; an answer that is not a list counts as no results. */
export async function readList<T = WithId>(
  ctx: Pick<OperationContext, 'read'>,
  endpoint: string,
  body: Record<string, unknown>,
): Promise<T[]> {
  const found = await ctx.read<T[]>(endpoint, body);
  return Array.isArray(found) ? found : [];
}

/** `candidate.search` by email, the natural key of a candidate. */
export function candidatesByEmail(ctx: OperationContext, email: string): Promise<WithId[]> {
  return readList(ctx, 'candidate.search', { email });
}

/** A (multi-)select value: one of the options when they are known, else any text that Ashby checks. */
export function selectDef(options: string[]): FieldDef {
  return options.length > 0 ? { type: 'enum', values: options } : { type: 'string' };
}

/** Where a candidate came from and lives; the same fields on create and update. */
export const CANDIDATE_ORIGIN_FIELDS: Record<'sourceId' | 'creditedToUserId' | 'location', FieldDef> = {
  sourceId: id('Source of the candidate'),
  creditedToUserId: id('User credited with the candidate'),
  location: {
    type: 'object',
    description: 'Where the candidate lives',
    fields: { city: text('City'), region: text('Region or state'), country: text('Country') },
  },
};

/** Resolves a candidate from `candidateId` or `candidateEmail` (exactly one candidate must have it). */
export async function resolveCandidateId(ctx: OperationContext): Promise<string> {
  const { candidateId, candidateEmail } = ctx.record;
  if (typeof candidateId === 'string') return candidateId;
  const email = String(candidateEmail);
  const found = await candidatesByEmail(ctx, email);
  if (found.length === 0)
    throw new RecordRejectedError(
      'candidate_not_found',
      `no candidate has the email ${email}`,
      'candidateEmail',
    );
  if (found.length > 1)
    throw new RecordRejectedError(
      'candidate_ambiguous',
      `${found.length} candidates have the email ${email}; give candidateId instead`,
      'candidateEmail',
    );
  return (found[0] as WithId).id;
}

/** Check shared by operations that take a candidate by id or by email. */
export function oneOfCandidate(record: Record<string, unknown>): Array<{ path: string; reason: string }> {
  const hasId = record.candidateId !== undefined;
  const hasEmail = record.candidateEmail !== undefined;
  if (hasId === hasEmail)
    return [{ path: 'candidateId', reason: 'give exactly one of candidateId or candidateEmail' }];
  return [];
}
