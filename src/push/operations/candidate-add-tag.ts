import type { Operation } from '../types.js';
import { EXAMPLE_ID, id, oneOfCandidate, resolveCandidateId } from './shared.js';

/** Add Tag: tagging twice leaves one tag, so a re-send is harmless. */
export const candidateAddTag: Operation = {
  name: 'candidate.addTag',
  title: 'Add Candidate Tag',
  kind: 'update',
  endpoints: ['candidate.search', 'candidate.addTag'],
  description: 'Adds a tag to a candidate given by candidateId or candidateEmail.',
  fields: {
    candidateId: id('Candidate to tag'),
    candidateEmail: { type: 'email', description: 'Or: the candidate with this email' },
    tagId: id('Tag to add', true),
  },
  example: { candidateEmail: 'ada@example.com', tagId: EXAMPLE_ID[1] },
  check: oneOfCandidate,
  async execute(ctx) {
    const candidateId = await resolveCandidateId(ctx);
    await ctx.write('candidate.addTag', { candidateId, tagId: ctx.record.tagId });
    return { status: 'updated', id: candidateId };
  },
};
