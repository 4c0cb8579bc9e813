import type { Operation } from '../types.js';
import { EXAMPLE_ID, id } from './shared.js';

/** Change Stage: moving to the stage it is already in changes nothing, so a re-send is harmless. */
export const applicationChangeStage: Operation = {
  name: 'application.changeStage',
  title: 'Change Application Stage',
  kind: 'update',
  endpoints: ['application.changeStage'],
  description:
    'Moves an application to an interview stage; archiveReasonId is required for an Archived stage.',
  fields: {
    applicationId: id('Application to move', true),
    interviewStageId: id('Target interview stage', true),
    archiveReasonId: id('Archive reason (required when the target stage is Archived)'),
  },
  example: { applicationId: EXAMPLE_ID[0], interviewStageId: EXAMPLE_ID[1] },
  async execute(ctx) {
    await ctx.write('application.changeStage', ctx.record);
    return { status: 'updated', id: String(ctx.record.applicationId) };
  },
};
