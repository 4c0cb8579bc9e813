import type { Operation, OperationContext } from '../types.js';
import {
  EXAMPLE_ID,
  id,
  oneOfCandidate,
  readList,
  resolveCandidateId,
  savedIds,
  type WithId,
} from './shared.js';

interface Note extends WithId {
  content?: string;
}

async function sameNotes(ctx: OperationContext, candidateId: string, note: string): Promise<Note[]> {
  // The note is the natural key: a note with the same text that did not exist before the create is ours.
  return (await readList<Note>(ctx, 'candidate.listNotes', { candidateId })).filter(
    (n) => n.content === note,
  );
}

/** Create Note: reconciled by finding a note with the same text that appeared after the send. */
export const candidateCreateNote: Operation = {
  name: 'candidate.createNote',
  title: 'Create Candidate Note',
  kind: 'create',
  endpoints: ['candidate.search', 'candidate.listNotes', 'candidate.createNote'],
  description: 'Adds a note to a candidate given by candidateId or candidateEmail.',
  fields: {
    candidateId: id('Candidate to annotate'),
    candidateEmail: { type: 'email', description: 'Or: the candidate with this email' },
    note: { type: 'string', required: true, description: 'The note' },
    noteType: {
      type: 'enum',
      values: ['text/plain', 'text/html'],
      description: 'Format of the note (default plain text)',
    },
    sendNotifications: { type: 'boolean', description: 'Notify subscribers (default false)' },
    createdAt: { type: 'datetime', description: 'When the note was written' },
  },
  example: { candidateId: EXAMPLE_ID[0], note: 'Met at the Berlin meetup; strong on distributed systems.' },
  check: oneOfCandidate,
  naturalKey: (record) =>
    `${typeof record.candidateId === 'string' ? record.candidateId : `email:${String(record.candidateEmail).trim().toLowerCase()}`}|${String(record.note)}`,
  async lookUp(ctx) {
    // Manual mode sends the note as Ashby's body: plain text, or `{type, value}`.
    const { note } = ctx.record;
    const textOf = note !== null && typeof note === 'object' ? (note as { value?: unknown }).value : note;
    const found = await sameNotes(ctx, await resolveCandidateId(ctx), String(textOf));
    return found.map((n) => n.id);
  },
  async execute(ctx) {
    const candidateId = await resolveCandidateId(ctx);
    const note = String(ctx.record.note);
    if (ctx.resume.reconciling && ctx.resume.step === 'candidate.createNote') {
      const before = savedIds(ctx);
      const appeared = (await sameNotes(ctx, candidateId, note)).filter((n) => !before.has(n.id));
      if (appeared[0]) return { status: 'created', id: appeared[0].id, reconciled: true };
    }
    const before = ctx.dryRun ? [] : (await sameNotes(ctx, candidateId, note)).map((n) => n.id);
    const { noteType, sendNotifications, createdAt } = ctx.record;
    const body: Record<string, unknown> = {
      candidateId,
      note: noteType === undefined ? note : { type: noteType, value: note },
    };
    if (sendNotifications !== undefined) body.sendNotifications = sendNotifications;
    if (createdAt !== undefined) body.createdAt = createdAt;
    const created = await ctx.write<WithId>('candidate.createNote', body, { data: { before } });
    return { status: 'created', id: created.id };
  },
};
