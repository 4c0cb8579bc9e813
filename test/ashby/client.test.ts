import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AshbyClient, type AshbyClientOptions } from '../../src/ashby/client.js';
import {
  AshbyAuthError,
  AshbyError,
  AshbyInvalidInputError,
  AshbyNetworkError,
  AshbyNotFoundError,
  AshbyOutcomeUnknownError,
  AshbyPermissionError,
  AshbyRateLimitError,
  AshbyServerError,
  AshbyTimeoutError,
} from '../../src/ashby/errors.js';
import { Limiter } from '../../src/ashby/limiter.js';
import { defaultSleep } from '../../src/ashby/retry.js';
import type { ClientEvent } from '../../src/ashby/types.js';
import { type FakeAshby, fail, ok, refusedPort, startFakeAshby } from '../support/fake-ashby.js';

let fake: FakeAshby;
beforeEach(async () => {
  fake = await startFakeAshby();
});
afterEach(async () => {
  await fake.close();
});

/** A client whose retries record their delay instead of sleeping. */
function clientFor(overrides: Partial<AshbyClientOptions> = {}, delays: number[] = []) {
  return new AshbyClient({
    apiKey: `test-key-${randomUUID()}`,
    baseUrl: fake.url,
    limiter: new Limiter(),
    ...overrides,
    retry: {
      jitter: false,
      backoffBaseMs: 100,
      sleep: async (ms) => {
        delays.push(ms);
      },
      ...overrides.retry,
    },
  });
}

async function caught(promise: Promise<unknown>): Promise<AshbyError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AshbyError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

describe('transport', () => {
  it('POSTs JSON to {baseUrl}/{endpoint} with Basic auth (key, empty password) and the versioned Accept', async () => {
    const apiKey = 'my-ashby-key-1234';
    const client = new AshbyClient({ apiKey, baseUrl: `${fake.url}/`, limiter: new Limiter() });
    fake.script('candidate.info', ok({ id: 'c1' }));
    await client.call('candidate.info', { id: 'c1' });
    const [request] = fake.requests;
    expect(request?.method).toBe('POST');
    expect(request?.endpoint).toBe('candidate.info');
    expect(request?.headers.authorization).toBe(`Basic ${Buffer.from(`${apiKey}:`).toString('base64')}`);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers.accept).toBe('application/json; version=1');
    expect(request?.body).toEqual({ id: 'c1' });
  });

  it('sends {} when no body is given', async () => {
    await clientFor().call('apiKey.info');
    expect(fake.requests[0]?.rawBody).toBe('{}');
  });

  it('returns results and keeps the warnings of a partial success', async () => {
    fake.script(
      'application.create',
      ok({ id: 'a1' }, { warnings: ['unable_to_add_application_metadata'], requestId: 'r1' }),
    );
    const result = await clientFor().call<{ id: string }>('application.create', {
      candidateId: 'c',
      jobId: 'j',
    });
    expect(result.results.id).toBe('a1');
    expect(result.warnings).toEqual(['unable_to_add_application_metadata']);
    expect(result.requestId).toBe('r1');
  });

  it('judges by the envelope: HTTP 200 with success:false is an error', async () => {
    fake.script('application.info', fail('application_not_found', 'Application not found'));
    const error = await caught(clientFor().call('application.info', { applicationId: 'x' }));
    expect(error).toBeInstanceOf(AshbyNotFoundError);
    expect(error.httpStatus).toBe(200);
    expect(error.requestId).toBe('req-application_not_found');
  });

  it('rejects endpoint names that are not Ashby endpoint names', async () => {
    await expect(clientFor().call('../admin')).rejects.toThrow(/endpoint name/);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('errors over the wire', () => {
  it.each([
    ['401 missing key', { status: 401, raw: 'Unauthorized' }, AshbyAuthError],
    ['403 wrong key', { status: 403, json: { success: false, errors: ['forbidden'] } }, AshbyAuthError],
    [
      '403 missing permission',
      fail('missing_endpoint_permission', 'Missing permission', 403),
      AshbyPermissionError,
    ],
    ['invalid input', fail('invalid_input'), AshbyInvalidInputError],
  ])('%s', async (_label, response, type) => {
    fake.script('candidate.create', response);
    const error = await caught(clientFor().call('candidate.create', { name: 'x' }));
    expect(error).toBeInstanceOf(type);
    expect(fake.requestsTo('candidate.create')).toHaveLength(1);
  });

  it('a 429 that outlasts the retries is a rate limit error with its Retry-After and scope', async () => {
    fake.setDefault(() =>
      fail('rate_limited', 'slow down', 429, {
        headers: { 'Retry-After': '2', 'X-RateLimit-Scope': 'integration-partner' },
      }),
    );
    const error = (await caught(
      clientFor({ retry: { limit: 2 } }).call('candidate.list'),
    )) as AshbyRateLimitError;
    expect(error).toBeInstanceOf(AshbyRateLimitError);
    expect(error.retryAfterMs).toBe(2000);
    expect(error.rateLimitScope).toBe('integration-partner');
    expect(fake.requests).toHaveLength(2);
  });

  it('a permission error says which module the admin must grant', async () => {
    fake.script('candidate.create', fail('missing_endpoint_permission', 'Missing permission', 403));
    const error = (await caught(clientFor().call('candidate.create', { name: 'x' }))) as AshbyPermissionError;
    expect(error.message).toContain('needs Candidates: Write (candidatesWrite)');
  });

  it('an HTML error page on a read is retried, then reported as a server error', async () => {
    fake.setDefault(() => ({ status: 502, raw: '<html>Bad Gateway</html>' }));
    const error = await caught(clientFor({ retry: { limit: 3 } }).call('candidate.list'));
    expect(error).toBeInstanceOf(AshbyServerError);
    expect(fake.requestsTo('candidate.list')).toHaveLength(3);
  });

  it('a body cut off mid-way is a server error', async () => {
    fake.script('candidate.list', {
      action: 'truncate',
      json: { success: true, results: [{ id: 'x'.repeat(200) }] },
    });
    const error = await caught(clientFor({ retry: { limit: 1 } }).call('candidate.list'));
    expect(error).toBeInstanceOf(AshbyServerError);
  });

  it('a connection reset after sending is a network error that may have been sent', async () => {
    fake.script('candidate.list', { action: 'reset' });
    const error = (await caught(
      clientFor({ retry: { limit: 1 } }).call('candidate.list'),
    )) as AshbyNetworkError;
    expect(error).toBeInstanceOf(AshbyNetworkError);
    expect(error.certainlyNotSent).toBe(false);
  });

  it('a refused connection is a network error that certainly was not sent', async () => {
    const port = await refusedPort();
    const client = new AshbyClient({
      apiKey: 'refused-key-123',
      baseUrl: `http://127.0.0.1:${port}`,
      limiter: new Limiter(),
      retry: { limit: 1 },
    });
    const error = (await caught(client.call('candidate.list'))) as AshbyNetworkError;
    expect(error).toBeInstanceOf(AshbyNetworkError);
    expect(error.certainlyNotSent).toBe(true);
  });

  it('no answer within timeoutMs is a timeout error', async () => {
    fake.script('candidate.list', { action: 'hang' });
    const error = await caught(clientFor({ timeoutMs: 150, retry: { limit: 1 } }).call('candidate.list'));
    expect(error).toBeInstanceOf(AshbyTimeoutError);
  });

  it("the caller's abort is not turned into an Ashby error and is not retried", async () => {
    fake.script('candidate.list', { action: 'hang' });
    const controller = new AbortController();
    const promise = clientFor().call('candidate.list', {}, { signal: controller.signal });
    // Abort once the request has reached the server, however slow the machine is.
    await vi.waitFor(() => expect(fake.requests).toHaveLength(1), { timeout: 10_000, interval: 5 });
    controller.abort(new Error('stopped by user'));
    await expect(promise).rejects.toThrow('stopped by user');
    expect(fake.requests).toHaveLength(1);
  });
});

describe('retries', () => {
  it('honours Retry-After in seconds instead of backoff', async () => {
    const delays: number[] = [];
    fake.script(
      'candidate.list',
      fail('rate_limited', 'slow down', 429, { headers: { 'Retry-After': '3' } }),
    );
    fake.script('candidate.list', ok([]));
    await clientFor({}, delays).call('candidate.list');
    expect(delays).toEqual([3000]);
    expect(fake.requestsTo('candidate.list')).toHaveLength(2);
  });

  it('caps a long Retry-After at maxRetryAfterMs', async () => {
    const delays: number[] = [];
    fake.script(
      'candidate.list',
      fail('rate_limited', 'slow down', 429, { headers: { 'Retry-After': '3600' } }),
    );
    await clientFor({ retry: { maxRetryAfterMs: 2000 } }, delays).call('candidate.list');
    expect(delays).toEqual([2000]);
  });

  it('backs off exponentially on server errors, capped at backoffLimitMs', async () => {
    const delays: number[] = [];
    fake.setDefault(() => ({ status: 500, raw: 'oops' }));
    await caught(clientFor({ retry: { limit: 5, backoffLimitMs: 300 } }, delays).call('candidate.list'));
    expect(delays).toEqual([100, 200, 300, 300]);
    expect(fake.requests).toHaveLength(5);
  });

  it('stops retrying once the budget is spent', async () => {
    const delays: number[] = [];
    fake.setDefault(() => ({ status: 503, raw: 'down' }));
    // Backoff 100, 200, 400, 800…: the budget of 500 ms admits the first two delays only.
    const error = await caught(
      clientFor({ retry: { limit: 50, budgetMs: 500 } }, delays).call('candidate.list'),
    );
    expect(error).toBeInstanceOf(AshbyServerError);
    expect(delays).toEqual([100, 200]);
    expect(fake.requests).toHaveLength(3);
  });

  it('a create that times out after sending is not retried: outcome unknown, one request at the server', async () => {
    fake.script('candidate.create', { action: 'hang' });
    const error = await caught(clientFor({ timeoutMs: 150 }).call('candidate.create', { name: 'Ada' }));
    expect(error).toBeInstanceOf(AshbyOutcomeUnknownError);
    expect(error.cause).toBeInstanceOf(AshbyTimeoutError);
    expect(fake.requestsTo('candidate.create')).toHaveLength(1);
  });

  it('a create answered with HTTP 500 is not retried: outcome unknown', async () => {
    fake.setDefault(() => ({ status: 500, raw: 'oops' }));
    const error = await caught(clientFor().call('candidate.create', { name: 'Ada' }));
    expect(error).toBeInstanceOf(AshbyOutcomeUnknownError);
    expect(error.cause).toBeInstanceOf(AshbyServerError);
    expect(fake.requests).toHaveLength(1);
  });

  it('a create whose connection was refused is retried and succeeds once Ashby is reachable', async () => {
    const port = await refusedPort();
    let revived: FakeAshby | undefined;
    const client = new AshbyClient({
      apiKey: 'revive-key-123',
      baseUrl: `http://127.0.0.1:${port}`,
      limiter: new Limiter(),
      retry: {
        sleep: async () => {
          revived ??= await startFakeAshby({ port });
          revived.script('candidate.create', ok({ id: 'new' }));
        },
      },
    });
    try {
      const result = await client.call<{ id: string }>('candidate.create', { name: 'Ada' });
      expect(result.results.id).toBe('new');
      expect(revived?.requestsTo('candidate.create')).toHaveLength(1);
    } finally {
      await revived?.close();
    }
  });

  it('a safe-to-repeat write retries server errors', async () => {
    fake.script('application.changeStage', { status: 502, raw: 'bad gateway' }, ok({ id: 'a' }));
    await clientFor().call('application.changeStage', { applicationId: 'a', interviewStageId: 's' });
    expect(fake.requestsTo('application.changeStage')).toHaveLength(2);
  });

  it('reports requests, responses, retries and rate limiting as events', async () => {
    const events: ClientEvent[] = [];
    fake.script(
      'candidate.list',
      fail('rate_limited', 'slow', 429, { headers: { 'Retry-After': '1' } }),
      ok([]),
    );
    await clientFor({ onEvent: (e) => events.push(e) }).call('candidate.list');
    expect(events.map((e) => e.type)).toEqual([
      'request',
      'response',
      'rateLimited',
      'retry',
      'request',
      'response',
    ]);
    expect(events[3]).toMatchObject({ type: 'retry', delayMs: 1000, attempt: 1 });
    const last = events[5];
    expect(last).toMatchObject({ type: 'response', success: true, httpStatus: 200 });
    expect(last?.type === 'response' && last.durationMs >= 0).toBe(true);
  });
});

describe('limiter', () => {
  it('never has more requests in flight at the server than its concurrency, and uses it', async () => {
    fake.setDefault(() => ({ ...ok([]), delayMs: 25 }));
    const limiter = new Limiter({ maxConcurrent: 2 });
    const client = clientFor({ limiter });
    await Promise.all(Array.from({ length: 16 }, () => client.call('candidate.list')));
    expect(fake.requests).toHaveLength(16);
    expect(fake.maxInFlight).toBe(2);
    expect(limiter.stats().maxInFlightSeen).toBe(2);
    expect(limiter.stats().inFlight).toBe(0);
  });

  it('is shared by two clients of the same limiter', async () => {
    fake.setDefault(() => ({ ...ok([]), delayMs: 25 }));
    const limiter = new Limiter({ maxConcurrent: 1 });
    const a = clientFor({ limiter });
    const b = clientFor({ limiter });
    await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).call('user.list')));
    expect(fake.maxInFlight).toBe(1);
  });

  it('learns a request rate when Ashby answers 429, and halves the concurrency on concurrent_limit_exceeded', async () => {
    const limiter = new Limiter({ maxConcurrent: 4 });
    fake.script(
      'candidate.list',
      fail('rate_limit_exceeded', 'slow', 429, { headers: { 'Retry-After': '0' } }),
      ok([]),
    );
    fake.setDefault(() => ok([]));
    const client = clientFor({ limiter });
    await Promise.all(Array.from({ length: 6 }, () => client.call('candidate.list')));
    expect(limiter.stats()).toMatchObject({ rateLimited: 1, rateCuts: 1, effectiveConcurrency: 4 });
    expect(limiter.stats().learnedRequestsPerSecond).toBeGreaterThan(0);
    fake.script(
      'report.synchronous',
      fail('concurrent_limit_exceeded', 'too many reports', 429, { headers: { 'Retry-After': '0' } }),
      ok({}),
    );
    await clientFor({ limiter }).call('report.synchronous');
    expect(limiter.stats()).toMatchObject({ rateLimited: 2, effectiveConcurrency: 2 });
  });

  it('a Retry-After holds every other request of the key at the client until it has passed', async () => {
    const arrivals: number[] = [];
    let throttledAt = 0;
    fake.script('candidate.list', () => {
      throttledAt = Date.now();
      return fail('rate_limit_exceeded', 'slow down', 429, { headers: { 'Retry-After': '1' } });
    });
    fake.setDefault(() => {
      arrivals.push(Date.now());
      return ok([]);
    });
    const limiter = new Limiter({ maxConcurrent: 1 });
    // Real sleeps: the retry of the throttled call waits its Retry-After like everyone else.
    const client = clientFor({ limiter, retry: { sleep: defaultSleep } });
    const first = client.call('candidate.list');
    await new Promise((r) => setTimeout(r, 5));
    await Promise.all([first, client.call('user.list'), client.call('job.list'), client.call('offer.list')]);
    expect(throttledAt).toBeGreaterThan(0);
    expect(arrivals).toHaveLength(4);
    // Generous lower bound only: a slow machine can make the pause longer, never shorter.
    for (const at of arrivals) expect(at - throttledAt).toBeGreaterThanOrEqual(900);
    expect(limiter.stats()).toMatchObject({ pauses: 1, rateLimited: 1 });
  });
});

describe('the API key never leaks', () => {
  const canary = `canary-${randomUUID()}`;
  const basic = Buffer.from(`${canary}:`).toString('base64');

  function assertClean(error: unknown) {
    expect(error).toBeInstanceOf(AshbyError);
    const e = error as AshbyError;
    const texts = [e.message, e.stack ?? '', JSON.stringify(e), String(e), JSON.stringify(e.toJSON())];
    if (e.cause instanceof Error) texts.push(e.cause.message, e.cause.stack ?? '');
    for (const text of texts) {
      expect(text).not.toContain(canary);
      expect(text).not.toContain(basic);
    }
  }

  it.each([
    ['a server that echoes the key in errorInfo', (key: string) => fail('invalid_input', `bad key ${key}`)],
    [
      'a 403 page echoing the key',
      (key: string) => ({ status: 403, raw: `<html>key ${key} is deactivated</html>` }),
    ],
    [
      'a 401 echoing the Authorization header',
      (key: string) => ({
        status: 401,
        raw: `Authorization: Basic ${Buffer.from(`${key}:`).toString('base64')}`,
      }),
    ],
    ['a 500 echoing the key', (key: string) => ({ status: 500, raw: `crash for ${key}` })],
    [
      'a permission error echoing the key',
      (key: string) => fail('missing_endpoint_permission', `key ${key} lacks it`, 403),
    ],
    [
      'a write whose outcome is unknown',
      (key: string) => ({ status: 503, json: { success: false, errors: [`down for ${key}`] } }),
    ],
  ])('not in %s', async (_label, respond) => {
    fake.setDefault(() => respond(canary));
    const client = clientFor({ apiKey: canary, retry: { limit: 2 } });
    assertClean(await caught(client.call('candidate.create', { name: 'x' })));
  });

  it('not in a timeout or network error', async () => {
    fake.script('candidate.list', { action: 'hang' });
    assertClean(
      await caught(clientFor({ apiKey: canary, timeoutMs: 100, retry: { limit: 1 } }).call('candidate.list')),
    );
    const port = await refusedPort();
    const refused = new AshbyClient({
      apiKey: canary,
      baseUrl: `http://127.0.0.1:${port}`,
      limiter: new Limiter(),
      retry: { limit: 1 },
    });
    assertClean(await caught(refused.call('candidate.list')));
  });
});
