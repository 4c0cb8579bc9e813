import { randomUUID } from 'node:crypto';
import {
  AshbyInvalidInputError,
  AshbyNetworkError,
  AshbyNotFoundError,
  AshbyOutcomeUnknownError,
  AshbyPermissionError,
} from '../../src/ashby/errors.js';
import type { AshbyCaller } from '../../src/push/types.js';

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
        throw new AshbyPermissionError({
          endpoint,
          code: 'missing_endpoint_permission',
          message: 'no',
          requestId: 'req-1',
        });
      this.writes.push({ endpoint, body });
    }
    const result = this.apply(endpoint, body);
    if (write && this.loseResponse > 0) {
      this.loseResponse -= 1;
      // What the client raises when the connection broke after the request left.
      throw new AshbyOutcomeUnknownError(
        new AshbyNetworkError({
          endpoint,
          code: 'connection_lost',
          message: 'timed out after sending',
          certainlyNotSent: false,
        }),
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
          throw new AshbyInvalidInputError({
            endpoint,
            code: 'invalid_input',
            message: 'name is required',
            requestId: 'req-bad',
            problems: [{ message: 'name is required', parameter: 'name' }],
          });
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
        if (!c)
          throw new AshbyNotFoundError({
            endpoint,
            code: 'candidate_not_found',
            message: 'not found',
            requestId: 'req-1',
          });
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
