import type { StreamDefinition } from './types.js';

export const sources: StreamDefinition = {
  name: 'sources',
  endpoint: 'source.list',
  primaryKey: ['id'],
  description: 'Candidate sources and their source types.',
  body: ({ includeArchived }) => ({ includeArchived }),
};

export const sourceTrackingLinks: StreamDefinition = {
  name: 'source_tracking_links',
  endpoint: 'sourceTrackingLink.list',
  primaryKey: ['id'],
  description: 'Source tracking links, disabled ones included.',
  body: ({ includeArchived }) => ({ includeDisabled: includeArchived }),
};

export const archiveReasons: StreamDefinition = {
  name: 'archive_reasons',
  endpoint: 'archiveReason.list',
  primaryKey: ['id'],
  description: 'Reasons an application can be archived with.',
  body: ({ includeArchived }) => ({ includeArchived }),
};

export const customFields: StreamDefinition = {
  name: 'custom_fields',
  endpoint: 'customField.list',
  primaryKey: ['id'],
  description: 'Custom field definitions (values are in custom_field_values).',
  body: ({ includeArchived }) => ({ includeArchived }),
};

// The three 2026 lists below: record shapes follow the 2026 spec, and each answers in one request.

export const closeReasons: StreamDefinition = {
  name: 'close_reasons',
  endpoint: 'closeReason.list',
  primaryKey: ['id'],
  description: 'Reasons a job or opening can be closed with.',
  body: ({ includeArchived }) => ({ includeArchived }),
  note: 'endpoint added in 2026; its record shape is not in the 2024 spec, records are stored as received',
};

export const brands: StreamDefinition = {
  name: 'brands',
  endpoint: 'brand.list',
  primaryKey: ['id'],
  description: 'Brands (job board and email branding).',
  note: 'endpoint added in 2026; its record shape is not in the 2024 spec, records are stored as received',
};

export const communicationTemplates: StreamDefinition = {
  name: 'communication_templates',
  endpoint: 'communicationTemplate.list',
  primaryKey: ['id'],
  description: 'Email and message templates.',
  note: 'endpoint added in 2026; its record shape is not in the 2024 spec, records are stored as received',
};
