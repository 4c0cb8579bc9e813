import { describe, expect, it } from 'vitest';
import {
  AshbyAuthError,
  AshbyCursorError,
  AshbyError,
  AshbyInvalidInputError,
  AshbyNetworkError,
  AshbyNotFoundError,
  AshbyOutcomeUnknownError,
  AshbyPermissionError,
  AshbyRateLimitError,
  AshbyServerError,
  AshbySyncTokenError,
  AshbyTimeoutError,
  classifyAshbyError,
  errorFromResponse,
  errorFromTransportFailure,
  parseRetryAfter,
} from '../../src/ashby/errors.js';
import { ashbyErrorOfEachKind } from '../support/ashby-errors.js';

const envelope = (code: string, message = `message for ${code}`) =>
  JSON.stringify({
    success: false,
    errors: [code],
    errorInfo: { code, message, requestId: '01JSJ8FEK5ZN4XQBZP7DBKK7ZC' },
  });

const fromBody = (
  bodyText: string,
  httpStatus = 200,
  headers: Record<string, string> = {},
  endpoint = 'x.list',
) => errorFromResponse({ endpoint, httpStatus, headers, bodyText });

describe('errorFromResponse maps each failure to its type', () => {
  it.each([
    ['invalid_input', AshbyInvalidInputError],
    ['application_not_found', AshbyNotFoundError],
    ['interview_stage_not_found', AshbyNotFoundError],
    ['not_found', AshbyNotFoundError],
    ['sync_token_expired', AshbySyncTokenError],
    ['sync_token_invalid', AshbySyncTokenError],
    ['incremental_sync_too_large', AshbySyncTokenError],
    ['next_cursor_expired', AshbyCursorError],
    ['invalid_next_cursor', AshbyCursorError],
  ])('HTTP 200 with code %s becomes %s', (code, type) => {
    const error = fromBody(envelope(code), 200, {}, 'application.changeStage');
    expect(error).toBeInstanceOf(type);
    expect(error).toBeInstanceOf(AshbyError);
    expect(error.code).toBe(code);
    expect(error.endpoint).toBe('application.changeStage');
    expect(error.requestId).toBe('01JSJ8FEK5ZN4XQBZP7DBKK7ZC');
    expect(error.httpStatus).toBe(200);
    expect(error.message).toContain('application.changeStage');
    expect(error.message).toContain(code);
    expect(error.message).toContain('01JSJ8FEK5ZN4XQBZP7DBKK7ZC');
    expect(error.message).toContain(`message for ${code}`);
  });

  it('HTTP 401 is an auth error about a missing key, even with a plain-text body', () => {
    const error = fromBody('Unauthorized', 401);
    expect(error).toBeInstanceOf(AshbyAuthError);
    expect(error.httpStatus).toBe(401);
    expect(error.message).toMatch(/missing/);
  });

  it('HTTP 403 without missing_endpoint_permission is an auth error about a wrong or deactivated key', () => {
    const error = fromBody(JSON.stringify({ success: false, errors: ['forbidden'] }), 403);
    expect(error).toBeInstanceOf(AshbyAuthError);
    expect(error).not.toBeInstanceOf(AshbyPermissionError);
    expect(error.message).toMatch(/wrong or deactivated/);
  });

  it('missing_endpoint_permission names the endpoint, scope and module from the catalogue', () => {
    const error = fromBody(envelope('missing_endpoint_permission'), 403, {}, 'candidate.create');
    expect(error).toBeInstanceOf(AshbyPermissionError);
    const permission = error as AshbyPermissionError;
    expect(permission.scope).toBe('candidatesWrite');
    expect(permission.module).toBe('Candidates');
    expect(permission.label).toBe('needs Candidates: Write (candidatesWrite)');
    expect(permission.message).toContain('candidate.create needs Candidates: Write (candidatesWrite)');
  });

  it('missing_endpoint_permission on an unknown endpoint still is a permission error', () => {
    const error = fromBody(envelope('missing_endpoint_permission'), 403, {}, 'future.thing');
    expect(error).toBeInstanceOf(AshbyPermissionError);
    expect((error as AshbyPermissionError).scope).toBeUndefined();
  });

  it('HTTP 429 carries Retry-After in seconds and the rate limit scope', () => {
    const error = fromBody(envelope('rate_limit_exceeded'), 429, {
      'Retry-After': '7',
      'X-RateLimit-Scope': 'integration-partner',
    });
    expect(error).toBeInstanceOf(AshbyRateLimitError);
    expect((error as AshbyRateLimitError).retryAfterMs).toBe(7000);
    expect((error as AshbyRateLimitError).rateLimitScope).toBe('integration-partner');
  });

  it('HTTP 429 without headers is a per-key rate limit with no Retry-After', () => {
    const error = fromBody('', 429) as AshbyRateLimitError;
    expect(error).toBeInstanceOf(AshbyRateLimitError);
    expect(error.retryAfterMs).toBeUndefined();
    expect(error.rateLimitScope).toBe('api-key');
  });

  it('Retry-After as an HTTP date is converted relative to now', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const error = errorFromResponse({
      endpoint: 'x.list',
      httpStatus: 429,
      headers: { 'retry-after': 'Thu, 01 Jan 2026 00:00:12 GMT' },
      bodyText: '',
      now,
    }) as AshbyRateLimitError;
    expect(error.retryAfterMs).toBe(12_000);
  });

  it('an unreadable Retry-After is ignored', () => {
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter('-5')).toBeUndefined();
    expect(parseRetryAfter('')).toBeUndefined();
    expect(parseRetryAfter('1.5')).toBe(1500);
  });

  it.each([
    ['HTTP 502 with an HTML page', '<html><body>Bad gateway</body></html>', 502],
    ['HTTP 500 with JSON', JSON.stringify({ success: false, errors: ['internal_error'] }), 500],
    ['HTTP 200 with an HTML page', '<!doctype html><html></html>', 200],
    ['HTTP 200 with truncated JSON', '{"success":true,"results":[{"id":"a"', 200],
    ['HTTP 200 with an empty body', '', 200],
    ['HTTP 200 with JSON lacking a success flag', '{"results":[]}', 200],
  ])('%s is a server error', (_label, body, status) => {
    const error = fromBody(body, status);
    expect(error).toBeInstanceOf(AshbyServerError);
    expect(error.httpStatus).toBe(status);
  });

  it('errors given as {message, parameter} objects become an invalid input error listing them', () => {
    const body = JSON.stringify({
      success: false,
      errors: [{ message: 'Invalid limit', parameter: 'limit' }],
    });
    const error = fromBody(body) as AshbyInvalidInputError;
    expect(error).toBeInstanceOf(AshbyInvalidInputError);
    expect(error.problems).toEqual([{ message: 'Invalid limit', parameter: 'limit' }]);
    expect(error.message).toContain('limit: Invalid limit');
  });

  it('errors: null and errorInfo: null still give an error naming the endpoint', () => {
    const error = fromBody(
      JSON.stringify({ success: false, errors: null, errorInfo: null }),
      200,
      {},
      'job.list',
    );
    expect(error.constructor).toBe(AshbyError);
    expect(error.code).toBeUndefined();
    expect(error.message).toContain('job.list');
  });

  it('the 2024 shape with only errors: [code] is understood', () => {
    const error = fromBody(JSON.stringify({ success: false, errors: ['invalid_input'] }));
    expect(error).toBeInstanceOf(AshbyInvalidInputError);
    expect(error.code).toBe('invalid_input');
  });

  it('not found says that confidential records look the same', () => {
    expect(fromBody(envelope('application_not_found')).message).toMatch(/confidential/);
  });

  it('sync token and cursor errors say how to recover', () => {
    expect(fromBody(envelope('sync_token_expired')).message).toMatch(/full sync/);
    expect(fromBody(envelope('next_cursor_expired')).message).toMatch(/first page/);
  });
});

describe('errorFromTransportFailure', () => {
  const fetchFailed = (code: string) => Object.assign(new TypeError('fetch failed'), { cause: { code } });

  it('a refused connection is a network error that certainly was not sent', () => {
    const error = errorFromTransportFailure('candidate.create', fetchFailed('ECONNREFUSED'), {
      timedOut: false,
      timeoutMs: 1000,
      phase: 'request',
    }) as AshbyNetworkError;
    expect(error).toBeInstanceOf(AshbyNetworkError);
    expect(error.certainlyNotSent).toBe(true);
    expect(error.code).toBe('connection_refused');
  });

  it('an unresolvable host is a network error that certainly was not sent', () => {
    const error = errorFromTransportFailure('x.list', fetchFailed('ENOTFOUND'), {
      timedOut: false,
      timeoutMs: 1000,
      phase: 'request',
    }) as AshbyNetworkError;
    expect(error.certainlyNotSent).toBe(true);
  });

  it('a reset may have been sent', () => {
    const error = errorFromTransportFailure('x.list', fetchFailed('ECONNRESET'), {
      timedOut: false,
      timeoutMs: 1000,
      phase: 'request',
    }) as AshbyNetworkError;
    expect(error).toBeInstanceOf(AshbyNetworkError);
    expect(error.certainlyNotSent).toBe(false);
  });

  it('a timeout is a timeout error', () => {
    const error = errorFromTransportFailure('x.list', new Error('aborted'), {
      timedOut: true,
      timeoutMs: 1234,
      phase: 'request',
    });
    expect(error).toBeInstanceOf(AshbyTimeoutError);
    expect(error.message).toContain('1234 ms');
  });

  it('an outcome-unknown error wraps its cause and keeps its code and requestId', () => {
    const cause = fromBody(envelope('internal_error'), 503, {}, 'candidate.create');
    const error = new AshbyOutcomeUnknownError(cause);
    expect(error.cause).toBe(cause);
    expect(error.code).toBe(cause.code);
    expect(error.requestId).toBe(cause.requestId);
    expect(error.message).toMatch(/may or may not/);
  });
});

describe('classifyAshbyError names what an error means by its class', () => {
  it.each(Object.entries(ashbyErrorOfEachKind({ endpoint: 'candidate.list', message: 'x' })))(
    '%s',
    (kind, error) => {
      expect(classifyAshbyError(error)).toBe(kind);
    },
  );

  it('answers undefined for errors that do not come from Ashby', () => {
    expect(classifyAshbyError(new Error('x'))).toBeUndefined();
    expect(classifyAshbyError({ name: 'AshbyAuthError', code: 'unauthorized' })).toBeUndefined();
  });

  it('classifies what errorFromResponse builds', () => {
    const env = (code: string) => JSON.stringify({ success: false, errorInfo: { code, message: code } });
    expect(classifyAshbyError(fromBody(env('next_cursor_expired')))).toBe('cursor');
    expect(classifyAshbyError(fromBody(env('sync_token_expired')))).toBe('sync-token');
    expect(classifyAshbyError(fromBody(env('missing_endpoint_permission')))).toBe('permission');
    expect(classifyAshbyError(fromBody('<html>', 502))).toBe('server');
  });
});
