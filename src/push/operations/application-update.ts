import type { Operation } from '../types.js';
import { EXAMPLE_ID, id } from './shared.js';

/** Update Application: sets fields; a re-send is harmless. */
export const applicationUpdate: Operation = {
  name: 'application.update',
  title: 'Update Application',
  kind: 'update',
  endpoints: ['application.update'],
  description: 'Updates an application’s source, credited user or creation time.',
  fields: {
    applicationId: id('Application to update', true),
    sourceId: id('Source'),
    creditedToUserId: id('User credited'),
    createdAt: { type: 'datetime', description: 'When the application was made' },
    sendNotifications: { type: 'boolean', description: 'Notify subscribers (default true in Ashby)' },
  },
  example: { applicationId: EXAMPLE_ID[0], sourceId: EXAMPLE_ID[1], sendNotifications: false },
  async execute(ctx) {
    await ctx.write('application.update', ctx.record);
    return { status: 'updated', id: String(ctx.record.applicationId) };
  },
};
