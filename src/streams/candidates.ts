import { idIn } from './fields.js';
import { perParent, type StreamDefinition } from './types.js';

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
  parent: perParent('candidates', 'candidateId'),
  optIn: true,
};

export const candidateClientInfo: StreamDefinition = {
  name: 'candidate_client_info',
  endpoint: 'candidate.listClientInfo',
  primaryKey: ['id'],
  description: 'IP address and browser a candidate applied from, per application.',
  parent: perParent('candidates', 'candidateId'),
  optIn: true,
  note: 'endpoint added in 2026; its record shape is not in the 2024 spec, records are stored as received',
};

export const candidateFraudChecks: StreamDefinition = {
  name: 'candidate_fraud_checks',
  endpoint: 'candidate.listFraudChecks',
  primaryKey: ['id'],
  description: 'Fraud detection checks run on candidates.',
  parent: perParent('candidates', 'candidateId'),
  optIn: true,
  note: 'endpoint added in 2026 whose record shape is not documented in the sources ashpipe follows (records are expected to carry an id); empty unless Fraud Detection is on',
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
  // A project's values are in `customFieldEntries` (2026 spec).
  customFieldsPath: ['customFieldEntries'],
  confidential: (record, ctx) => {
    if (record.confidential !== true) return idIn(record, 'id', ctx.projectIds);
    return true;
  },
  confidentialKind: 'projectIds',
};
