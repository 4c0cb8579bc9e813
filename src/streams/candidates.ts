import { idIn } from './fields.js';
import type { StreamDefinition } from './types.js';

export const candidates: StreamDefinition = {
  name: 'candidates',
  endpoint: 'candidate.list',
  primaryKey: ['id'],
  description: 'Candidates (people), with their custom field values.',
  customFieldsObjectType: 'Candidate',
};

export const candidateNotes: StreamDefinition = {
  name: 'candidate_notes',
  endpoint: 'candidate.listNotes',
  primaryKey: ['id'],
  description: 'Notes written on candidates.',
  parent: { kind: 'stream', stream: 'candidates', field: 'id', param: 'candidateId' },
  optIn: true,
};

export const candidateTags: StreamDefinition = {
  name: 'candidate_tags',
  endpoint: 'candidateTag.list',
  primaryKey: ['id'],
  description: 'Tags that can be put on candidates.',
  body: ({ includeArchived }) => ({ includeArchived }),
};

export const projects: StreamDefinition = {
  name: 'projects',
  endpoint: 'project.list',
  primaryKey: ['id'],
  description: 'Talent projects (sourcing lists of candidates).',
  customFieldsObjectType: 'Talent_Project',
  confidential: (record, ctx) => {
    if (record.confidential !== true) return idIn(record, 'id', ctx.projectIds);
    return true;
  },
  confidentialKind: 'projectIds',
};
