import { idIn } from './fields.js';
import type { StreamDefinition } from './types.js';

export const offers: StreamDefinition = {
  name: 'offers',
  endpoint: 'offer.list',
  primaryKey: ['id'],
  description: 'Offers and their latest version.',
  customFieldsObjectType: 'Offer',
  // An offer's values belong to its latest version (2024 and 2026 spec).
  customFieldsPath: ['latestVersion', 'customFields'],
  confidential: (record, ctx) => idIn(record, 'applicationId', ctx.applicationIds),
  confidentialAfter: ['applications'],
};

export const approvals: StreamDefinition = {
  name: 'approvals',
  refreshAfterMs: 3_600_000,
  endpoint: 'approval.list',
  primaryKey: ['id'],
  description: 'Approval processes (offers, openings, jobs).',
  note: 'endpoint added in 2026; its record shape is not in the 2024 spec, records are stored as received',
};
