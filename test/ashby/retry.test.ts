import { describe, expect, it } from 'vitest';
import {
  AshbyAuthError,
  type AshbyError,
  AshbyInvalidInputError,
  AshbyNetworkError,
  AshbyRateLimitError,
  AshbyServerError,
  AshbyTimeoutError,
} from '../../src/ashby/errors.js';
import {
  DEFAULT_RETRY_OPTIONS,
  decideRetry,
  inferEndpoint,
  type RetryEndpoint,
  resolveRetryOptions,
} from '../../src/ashby/retry.js';

const read: RetryEndpoint = { name: 'candidate.list', access: 'read', retrySafe: true };
const safeWrite: RetryEndpoint = { name: 'application.changeStage', access: 'write', retrySafe: true };
const unsafeWrite: RetryEndpoint = { name: 'candidate.create', access: 'write', retrySafe: false };

const server = () =>
  new AshbyServerError({ endpoint: 'e', code: 'server_error', message: 'boom', httpStatus: 500 });
const timeout = () => new AshbyTimeoutError({ endpoint: 'e', code: 'timeout', message: 't' });
const refused = () =>
  new AshbyNetworkError({ endpoint: 'e', code: 'connection_refused', message: 'r', certainlyNotSent: true });
const reset = () =>
  new AshbyNetworkError({ endpoint: 'e', code: 'connection_lost', message: 'r', certainlyNotSent: false });
const limited = (retryAfterMs?: number) =>
  new AshbyRateLimitError({ endpoint: 'e', code: 'rate_limited', message: 'slow down', retryAfterMs });

const options = resolveRetryOptions({ jitter: false });
const decide = (endpoint: RetryEndpoint, error: AshbyError, attempt = 1, elapsedMs = 0, opts = options) =>
  decideRetry({ endpoint, error, attempt, elapsedMs, options: opts, random: () => 0.5 });

describe('decideRetry', () => {
  it('every option has a default', () => {
    const resolved = resolveRetryOptions();
    for (const key of [
      'limit',
      'backoffBaseMs',
      'backoffLimitMs',
      'maxRetryAfterMs',
      'jitter',
      'budgetMs',
      'sleep',
    ]) {
      expect(resolved[key as keyof typeof resolved]).toBeDefined();
    }
    expect(resolveRetryOptions({ limit: 2 }).backoffBaseMs).toBe(DEFAULT_RETRY_OPTIONS.backoffBaseMs);
  });

  it.each([
    ['429', limited()],
    ['5xx', server()],
    ['timeout', timeout()],
    ['reset', reset()],
    ['refused', refused()],
  ])('reads retry on %s', (_label, error) => {
    expect(decide(read, error).retry).toBe(true);
  });

  it.each([
    ['auth', new AshbyAuthError({ endpoint: 'e', message: 'no' })],
    ['invalid input', new AshbyInvalidInputError({ endpoint: 'e', message: 'bad' })],
  ])('nothing retries on %s', (_label, error) => {
    const decision = decide(read, error);
    expect(decision.retry).toBe(false);
    expect(decision).not.toHaveProperty('outcomeUnknown');
  });

  it('writes that are safe to repeat retry like reads', () => {
    expect(decide(safeWrite, server()).retry).toBe(true);
    expect(decide(safeWrite, timeout()).retry).toBe(true);
  });

  it.each([
    ['5xx', server()],
    ['timeout', timeout()],
    ['reset after sending', reset()],
  ])('other writes do not retry on %s: their outcome is unknown', (_label, error) => {
    const decision = decide(unsafeWrite, error);
    expect(decision).toMatchObject({ retry: false, outcomeUnknown: true });
  });

  it('other writes retry when the connection was refused or Ashby throttled them', () => {
    expect(decide(unsafeWrite, refused()).retry).toBe(true);
    expect(decide(unsafeWrite, limited(1000)).retry).toBe(true);
  });

  it('backoff doubles per attempt and is capped by backoffLimitMs', () => {
    const opts = resolveRetryOptions({ jitter: false, backoffBaseMs: 100, backoffLimitMs: 1000, limit: 20 });
    const delays = [1, 2, 3, 4, 5, 6].map((attempt) => {
      const d = decide(read, server(), attempt, 0, opts);
      return d.retry ? d.delayMs : -1;
    });
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('full jitter draws the delay between 0 and the backoff', () => {
    const opts = resolveRetryOptions({ jitter: true, backoffBaseMs: 1000 });
    const at = (random: number) =>
      decideRetry({
        endpoint: read,
        error: server(),
        attempt: 2,
        elapsedMs: 0,
        options: opts,
        random: () => random,
      });
    expect(at(0)).toMatchObject({ retry: true, delayMs: 0 });
    expect(at(0.25)).toMatchObject({ retry: true, delayMs: 500 });
    expect(at(0.999)).toMatchObject({ retry: true, delayMs: 1998 });
  });

  it('Retry-After wins over backoff, is never jittered, and is capped by maxRetryAfterMs', () => {
    const opts = resolveRetryOptions({ jitter: true, maxRetryAfterMs: 5000 });
    const at = (ms: number) =>
      decideRetry({
        endpoint: read,
        error: limited(ms),
        attempt: 1,
        elapsedMs: 0,
        options: opts,
        random: () => 0.1,
      });
    expect(at(3000)).toMatchObject({ retry: true, delayMs: 3000 });
    expect(at(60_000)).toMatchObject({ retry: true, delayMs: 5000 });
  });

  it('a 429 without Retry-After falls back to backoff', () => {
    expect(decide(read, limited(), 3)).toMatchObject({ retry: true, delayMs: 2000 });
  });

  it('stops at the attempt limit', () => {
    const opts = resolveRetryOptions({ limit: 3, jitter: false });
    expect(decide(read, server(), 2, 0, opts).retry).toBe(true);
    expect(decide(read, server(), 3, 0, opts)).toMatchObject({ retry: false });
  });

  it('stops when the next delay would overrun the budget', () => {
    const opts = resolveRetryOptions({ budgetMs: 10_000, jitter: false, backoffBaseMs: 4000 });
    expect(decide(read, server(), 1, 5000, opts).retry).toBe(true);
    const decision = decide(read, server(), 2, 5000, opts);
    expect(decision.retry).toBe(false);
    expect(decision.reason).toMatch(/budget/);
  });

  it('endpoints missing from the catalogue are judged by their name', () => {
    expect(inferEndpoint('widget.listAll')).toMatchObject({ access: 'read', retrySafe: true });
    expect(inferEndpoint('widget.info')).toMatchObject({ access: 'read' });
    expect(inferEndpoint('widget.create')).toMatchObject({ access: 'write', retrySafe: false });
  });
});
