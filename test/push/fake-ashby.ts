import { randomUUID } from 'node:crypto';
import type { AshbyCaller } from '../../src/push/types.js';

/** An error shaped like the client's, matched by the engine on name and code. */
export class FakeAshbyError extends Error {
  constructor(
    override readonly name: string,
    readonly code: string,
    message: string,
    readonly endpoint: string,
    readonly requestId = 'req-1',
  ) {
    super(message);
  }
}

interface Candidate {
  id: string;
  name: string;
  email?: string;
}

/**
 * A small in-memory Ashby: candidates, notes, write counts per email. `loseResponse` makes the next
 * write apply and then fail with an unknown outcome, like a timeout after the request left.
 */
export class FakeAshby implements AshbyCaller {
  candidates: Candidate[] = [];
  notes: Array<{ id: string; candidateId: string; content: string }> = [];
  writes: Array<{ endpoint: string; body: Record<string, unknown> }> = [];
  createsByEmail = new Map<string, number>();
  loseResponse = 0;
  denyWrites = false;

  async call<T>(
    endpoint: string,
    body: Record<string, unknown> = {},
  ): Promise<{ results: T; warnings: string[] }> {
    await Promise.resolve();
    const ok = (results: unknown) => ({ results: results as T, warnings: [] });
    const write = !endpoint.includes('search') && !endpoint.includes('list') && !endpoint.includes('info');
    if (write) {
      if (this.denyWrites)
        throw new FakeAshbyError('AshbyPermissionError', 'missing_endpoint_permission', 'no', endpoint);
      this.writes.push({ endpoint, body });
    }
    const result = this.apply(endpoint, body);
    if (write && this.loseResponse > 0) {
      this.loseResponse -= 1;
      throw new FakeAshbyError(
        'AshbyOutcomeUnknownError',
        'outcome_unknown',
        'timed out after sending',
        endpoint,
      );
    }
    return ok(result);
  }

  private apply(endpoint: string, body: Record<string, unknown>): unknown {
    switch (endpoint) {
      case 'candidate.search':
        return this.candidates.filter(
          (c) =>
            (body.email === undefined || c.email === body.email) &&
            (body.name === undefined || c.name === body.name),
        );
      case 'candidate.create': {
        if (typeof body.name !== 'string')
          throw new FakeAshbyError(
            'AshbyInvalidInputError',
            'invalid_input',
            'name is required',
            endpoint,
            'req-bad',
          );
        const c = {
          id: randomUUID(),
          name: body.name,
          ...(typeof body.email === 'string' ? { email: body.email } : {}),
        };
        this.candidates.push(c);
        const k = c.email ?? c.name;
        this.createsByEmail.set(k, (this.createsByEmail.get(k) ?? 0) + 1);
        return c;
      }
      case 'candidate.update': {
        const c = this.candidates.find((x) => x.id === body.candidateId);
        if (!c) throw new FakeAshbyError('AshbyNotFoundError', 'candidate_not_found', 'not found', endpoint);
        Object.assign(c, typeof body.name === 'string' ? { name: body.name } : {});
        return c;
      }
      case 'candidate.listNotes':
        return this.notes.filter((n) => n.candidateId === body.candidateId);
      case 'candidate.createNote': {
        const n = { id: randomUUID(), candidateId: String(body.candidateId), content: String(body.note) };
        this.notes.push(n);
        return n;
      }
      default:
        return { id: randomUUID() };
    }
  }
}
