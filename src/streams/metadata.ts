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

export const closeReasons: StreamDefinition = {
  name: 'close_reasons',
  endpoint: 'closeReason.list',
  primaryKey: ['id'],
  description: 'Reasons a job or opening can be closed with.',
  optIn: true,
  note: 'endpoint added in 2026 whose record shape neither the 2024 spec nor the API notes give: opt-in until it is confirmed',
};

export const brands: StreamDefinition = {
  name: 'brands',
  endpoint: 'brand.list',
  primaryKey: ['id'],
  description: 'Brands (job board and email branding).',
  optIn: true,
  note: 'endpoint added in 2026 whose record shape is not documented in the sources ashpipe follows: opt-in',
};

export const communicationTemplates: StreamDefinition = {
  name: 'communication_templates',
  endpoint: 'communicationTemplate.list',
  primaryKey: ['id'],
  description: 'Email templates.',
  optIn: true,
  note: 'endpoint added in 2026 whose record shape is not documented in the sources ashpipe follows: opt-in',
};
