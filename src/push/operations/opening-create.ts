import type { Operation, OperationContext } from '../types.js';
import {
  EXAMPLE_ID,
  id,
  idsOf,
  RecordRejectedError,
  readList,
  savedIds,
  text,
  type WithId,
} from './shared.js';

async function sameOpenings(ctx: OperationContext, identifier: string): Promise<WithId[]> {
  return readList(ctx, 'opening.search', { identifier });
}

/** Create Opening; the identifier is its natural key. */
export const openingCreate: Operation = {
  name: 'opening.create',
  title: 'Create Opening',
  kind: 'create',
  endpoints: ['opening.search', 'opening.create'],
  description:
    'Creates an opening (headcount). The identifier is the natural key: an opening with the same identifier is reported as skipped-existing.',
  fields: {
    identifier: text('Your identifier of the opening (its natural key)', true),
    description: text('Description'),
    teamId: id('Department (team)'),
    locationIds: { type: 'array', items: { type: 'uuid' }, description: 'Locations' },
    jobIds: { type: 'array', items: { type: 'uuid' }, description: 'Jobs the opening belongs to' },
    targetHireDate: { type: 'date', description: 'Target hire date (YYYY-MM-DD)' },
    targetStartDate: { type: 'date', description: 'Target start date (YYYY-MM-DD)' },
    isBackfill: { type: 'boolean', description: 'A backfill (default false)' },
    employmentType: {
      type: 'enum',
      values: ['FullTime', 'PartTime', 'Intern', 'Contract', 'Temporary'],
      description: 'Employment type (default FullTime)',
    },
    openingState: {
      type: 'enum',
      values: ['Draft', 'Approved', 'Open', 'Closed'],
      description: 'Initial state',
    },
  },
  example: {
    identifier: 'HC-2025-017',
    jobIds: `["${EXAMPLE_ID[0]}"]`,
    targetHireDate: '2025-09-01',
    employmentType: 'FullTime',
  },
  naturalKey: (record) => `identifier:${String(record.identifier)}`,
  lookUp: async (ctx) => idsOf(await sameOpenings(ctx, String(ctx.record.identifier))),
  async execute(ctx) {
    const identifier = String(ctx.record.identifier);
    const existing = await sameOpenings(ctx, identifier);
    if (ctx.resume.reconciling && ctx.resume.step === 'opening.create') {
      const before = savedIds(ctx);
      const appeared = existing.filter((o) => !before.has(o.id));
      if (appeared[0]) return { status: 'created', id: appeared[0].id, reconciled: true };
    }
    if (existing[0]) return { status: 'skipped-existing', id: existing[0].id };
    if (identifier === '')
      throw new RecordRejectedError('invalid_input', 'identifier is required', 'identifier');
    const created = await ctx.write<WithId>('opening.create', ctx.record, { data: { before: [] } });
    return { status: 'created', id: created.id };
  },
};
