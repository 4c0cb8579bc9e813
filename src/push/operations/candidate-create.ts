import type { FieldDef } from '../fields.js';
import type { Operation, OperationContext, OperationOutcome } from '../types.js';
import {
  CANDIDATE_ORIGIN_FIELDS,
  candidatesByEmail,
  compact,
  idsOf,
  pick,
  readList,
  savedIds,
  text,
  type WithId,
} from './shared.js';

const candidateFields: Record<string, FieldDef> = {
  name: text('Full name', true),
  email: { type: 'email', description: 'Primary email; also the key used to find an existing candidate' },
  phoneNumber: text('Primary phone number'),
  linkedInUrl: { type: 'url', description: 'LinkedIn profile URL' },
  githubUrl: { type: 'url', description: 'GitHub profile URL' },
  website: { type: 'url', description: 'Personal website URL' },
  alternateEmailAddresses: { type: 'array', items: { type: 'email' }, description: 'Other email addresses' },
  ...CANDIDATE_ORIGIN_FIELDS,
  createdAt: { type: 'datetime', description: 'When the candidate was first seen (ISO 8601)' },
};

const UPDATABLE = [
  'name',
  'email',
  'phoneNumber',
  'linkedInUrl',
  'githubUrl',
  'sourceId',
  'creditedToUserId',
  'location',
  'createdAt',
];

async function lookup(ctx: OperationContext): Promise<WithId[]> {
  const { email, name } = ctx.record;
  if (typeof email === 'string') return candidatesByEmail(ctx, email);
  // Without an email the name is the only handle; reconciliation still only accepts a candidate that
  // did not exist before the create was sent.
  return readList(ctx, 'candidate.search', { name });
}

/** Create Candidate, looking the email up first; `--on-existing` decides what happens to a match. */
export const candidateCreate: Operation = {
  name: 'candidate.create',
  title: 'Create Candidate',
  kind: 'create',
  endpoints: ['candidate.search', 'candidate.create', 'candidate.update'],
  fields: candidateFields,
  description:
    'Creates a candidate. Looks the email up with candidate.search first: --on-existing skip (default) reports the match, update updates it, create creates another.',
  example: {
    name: 'Ada Lovelace',
    email: 'ada@example.com',
    'location.city': 'London',
    linkedInUrl: 'https://www.linkedin.com/in/ada',
  },
  naturalKey: (record) =>
    typeof record.email === 'string'
      ? `email:${record.email.trim().toLowerCase()}`
      : `name:${String(record.name).trim()}`,
  lookUp: async (ctx) => idsOf(await lookup(ctx)),
  async execute(ctx): Promise<OperationOutcome> {
    const { record } = ctx;
    if (ctx.resume.reconciling && ctx.resume.step === 'candidate.create') {
      const before = savedIds(ctx);
      const appeared = (await lookup(ctx)).filter((c) => !before.has(c.id));
      if (appeared[0]) return { status: 'created', id: appeared[0].id, reconciled: true };
    }
    const existing = await lookup(ctx);
    const match = typeof record.email === 'string' ? existing[0] : undefined;
    if (match && ctx.onExisting === 'skip') return { status: 'skipped-existing', id: match.id };
    if (match && ctx.onExisting === 'update') {
      const body = compact({ candidateId: match.id, ...pick(record, UPDATABLE), websiteUrl: record.website });
      await ctx.write('candidate.update', body);
      return { status: 'updated', id: match.id };
    }
    const created = await ctx.write<WithId>('candidate.create', record, {
      data: { before: idsOf(existing) },
    });
    return { status: 'created', id: created.id };
  },
};
