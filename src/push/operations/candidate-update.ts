import type { Operation } from '../types.js';
import { CANDIDATE_ORIGIN_FIELDS, EXAMPLE_ID, id, text } from './shared.js';

/** Update Candidate: sets the given fields; re-sending it is harmless. */
export const candidateUpdate: Operation = {
  name: 'candidate.update',
  title: 'Update Candidate',
  kind: 'update',
  endpoints: ['candidate.update'],
  description: 'Updates a candidate by id; only the fields present in the record change.',
  fields: {
    candidateId: id('Candidate to update', true),
    name: text('Full name'),
    email: { type: 'email', description: 'Primary email' },
    phoneNumber: text('Primary phone number'),
    linkedInUrl: { type: 'url', description: 'LinkedIn profile URL' },
    githubUrl: { type: 'url', description: 'GitHub profile URL' },
    websiteUrl: { type: 'url', description: 'Personal website URL' },
    alternateEmail: { type: 'email', description: 'An email address to add' },
    socialLinks: {
      type: 'array',
      description: 'Social links (replace the existing ones)',
      items: {
        type: 'object',
        fields: {
          type: {
            type: 'enum',
            required: true,
            values: ['LinkedIn', 'GitHub', 'Twitter', 'Medium', 'StackOverflow', 'Website'],
          },
          url: { type: 'url', required: true },
        },
      },
    },
    ...CANDIDATE_ORIGIN_FIELDS,
    createdAt: { type: 'datetime', description: 'When the candidate was first seen' },
    sendNotifications: { type: 'boolean', description: 'Notify subscribers (default true in Ashby)' },
  },
  example: {
    candidateId: EXAMPLE_ID[0],
    phoneNumber: '+44 20 7946 0000',
    'socialLinks.0.type': 'GitHub',
    'socialLinks.0.url': 'https://github.com/ada',
  },
  async execute(ctx) {
    await ctx.write('candidate.update', ctx.record);
    return { status: 'updated', id: String(ctx.record.candidateId) };
  },
};
