import { idIn, stringAt, stringsAt } from './fields.js';
import type { StreamDefinition } from './types.js';

export const jobs: StreamDefinition = {
  name: 'jobs',
  endpoint: 'job.list',
  primaryKey: ['id'],
  description: 'Jobs in every status, Draft included.',
  // job.list leaves Draft jobs out unless the status filter names them.
  // `includeUnpublishedJobPostingsIds`: `jobPostingIds` lists every posting, not only the published ones.
  body: ({ includeArchived }) => ({
    status: includeArchived ? ['Draft', 'Open', 'Closed', 'Archived'] : ['Draft', 'Open', 'Closed'],
    includeUnpublishedJobPostingsIds: true,
  }),
  customFieldsObjectType: 'Job',
  confidential: (record, ctx) => record.confidential === true || idIn(record, 'id', ctx.jobIds),
  confidentialKind: 'jobIds',
};

export const jobPostings: StreamDefinition = {
  name: 'job_postings',
  refreshAfterMs: 3_600_000,
  endpoint: 'jobPosting.list',
  primaryKey: ['id'],
  description: 'Published job postings, listed and unlisted, of the primary external job board.',
  confidential: (record, ctx) => idIn(record, 'jobId', ctx.jobIds),
  confidentialAfter: ['jobs'],
};

export const jobBoards: StreamDefinition = {
  name: 'job_boards',
  endpoint: 'jobBoard.list',
  primaryKey: ['id'],
  description: 'Job boards (external and internal).',
};

export const jobTemplates: StreamDefinition = {
  name: 'job_templates',
  endpoint: 'jobTemplate.list',
  primaryKey: ['id'],
  description: 'Job templates, active and inactive.',
  note: 'endpoint added in 2026; its record shape is not in the 2024 spec, records are stored as received',
};

export const openings: StreamDefinition = {
  name: 'openings',
  endpoint: 'opening.list',
  primaryKey: ['id'],
  description: 'Openings (headcount) and the jobs they belong to.',
  customFieldsObjectType: 'Opening',
  // An opening's values belong to its latest version (2026 spec).
  customFieldsPath: ['latestVersion', 'customFields'],
  confidential: (record, ctx) => {
    if (ctx.jobIds.size === 0) return false;
    const jobIds = stringsAt(record, 'latestVersion.jobIds');
    const single = stringAt(record, 'jobId');
    if (single !== undefined) jobIds.push(single);
    return jobIds.some((id) => ctx.jobIds.has(id));
  },
  confidentialAfter: ['jobs'],
};
