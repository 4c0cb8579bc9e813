import { perParent, type StreamDefinition } from './types.js';

export const users: StreamDefinition = {
  name: 'users',
  endpoint: 'user.list',
  primaryKey: ['id'],
  description: 'Ashby users, deactivated ones included, with their own custom field values.',
  body: ({ includeArchived }) => ({ includeDeactivated: includeArchived }),
  // Users' custom fields need a feature Ashby turns on per organisation; without it there are none.
  customFieldsObjectType: 'Employee',
};

export const userInterviewerPauses: StreamDefinition = {
  name: 'user_interviewer_pauses',
  endpoint: 'user.listInterviewerPauses',
  primaryKey: ['id'],
  description: 'Periods in which users paused interviewing.',
  parent: perParent('users', 'userId'),
  optIn: true,
  note: 'endpoint added in 2026 whose record shape is not documented in the sources ashpipe follows (records are expected to carry an id)',
};

export const departments: StreamDefinition = {
  name: 'departments',
  endpoint: 'department.list',
  primaryKey: ['id'],
  description: 'Departments and teams.',
  body: ({ includeArchived }) => ({ includeArchived }),
};

export const locations: StreamDefinition = {
  name: 'locations',
  endpoint: 'location.list',
  primaryKey: ['id'],
  description: 'Locations, with the regions of the location hierarchy.',
  body: ({ includeArchived }) => ({ includeArchived, includeLocationHierarchy: true }),
};

export const hiringTeamRoles: StreamDefinition = {
  name: 'hiring_team_roles',
  endpoint: 'hiringTeamRole.list',
  primaryKey: ['id'],
  description: 'Roles a member of a job hiring team can have.',
  // Without namesOnly:false the endpoint answers with bare titles, which have no id to key on.
  body: () => ({ namesOnly: false }),
};
