import { describe, expect, it } from 'vitest';
import {
  AshbyAuthError,
  AshbyCursorError,
  AshbyError,
  AshbyInvalidInputError,
  AshbyNetworkError,
  AshbyNotFoundError,
  AshbyPermissionError,
  AshbyRateLimitError,
  AshbyServerError,
  AshbySyncTokenError,
  AshbyTimeoutError,
} from '../../src/ashby/index.js';
import { LockLostError, SinkError } from '../../src/sinks/index.js';
import {
  AbortedError,
  classifyFailure,
  type FailureAction,
  type FailureContext,
  MAX_PASS_RESTARTS,
} from '../../src/sync/failure.js';

const at = { endpoint: 'candidate.list', message: 'x' };
const incremental: FailureContext = { aborted: false, mode: 'incremental', restarts: 0 };
const full: FailureContext = { aborted: false, mode: 'full', restarts: 0 };

describe('classifyFailure', () => {
  // Each row: the error, where the stream was, and what must happen — from src/sync/README.md.
  const cases: Array<[string, unknown, FailureContext, FailureAction]> = [
    [
      'a refused key stops the run',
      new AshbyAuthError({ ...at, httpStatus: 403 }),
      full,
      { action: 'fatal' },
    ],
    [
      'a refused key stops the run even while it is stopping',
      new AshbyAuthError(at),
      { ...full, aborted: true },
      { action: 'fatal' },
    ],
    [
      'anything while the run stops is an abort',
      new AshbyServerError(at),
      { ...full, aborted: true },
      { action: 'aborted' },
    ],
    ['the abort itself', new AbortedError('aborted'), full, { action: 'aborted' }],
    [
      'a missing permission skips the stream',
      new AshbyPermissionError({ ...at, scope: 'candidatesRead' }),
      full,
      { action: 'skip' },
    ],
    [
      'a refused token restarts an incremental pass in full',
      new AshbySyncTokenError({ ...at, code: 'sync_token_expired' }),
      incremental,
      { action: 'restart', pass: 'full', code: 'sync_token_expired' },
    ],
    [
      'a refused token on a full pass fails it',
      new AshbySyncTokenError({ ...at, code: 'sync_token_invalid' }),
      full,
      { action: 'fail' },
    ],
    [
      'an expired cursor restarts the pass',
      new AshbyCursorError({ ...at, code: 'next_cursor_expired' }),
      full,
      { action: 'restart', pass: 'same', code: 'next_cursor_expired' },
    ],
    [
      'an expired cursor fails the stream after the last restart',
      new AshbyCursorError({ ...at, code: 'next_cursor_expired' }),
      { ...full, restarts: MAX_PASS_RESTARTS },
      { action: 'fail' },
    ],
    // Decided by class: the code alone proves nothing (a plain AshbyError is not a cursor error).
    [
      'a plain error with a cursor code fails',
      new AshbyError({ ...at, code: 'next_cursor_expired' }),
      full,
      { action: 'fail' },
    ],
    [
      'a plain error with a permission code fails',
      new AshbyError({ ...at, code: 'missing_endpoint_permission' }),
      full,
      { action: 'fail' },
    ],
    ['5xx after retries fails', new AshbyServerError(at), full, { action: 'fail' }],
    ['429 after retries fails', new AshbyRateLimitError(at), full, { action: 'fail' }],
    ['a timeout fails', new AshbyTimeoutError(at), full, { action: 'fail' }],
    [
      'a network failure fails',
      new AshbyNetworkError({ ...at, certainlyNotSent: true }),
      full,
      { action: 'fail' },
    ],
    ['a refused body fails', new AshbyInvalidInputError(at), full, { action: 'fail' }],
    [
      'not found fails (child passes skip the parent themselves)',
      new AshbyNotFoundError(at),
      full,
      { action: 'fail' },
    ],
    ['a storage failure fails', new SinkError('sqlite:x', 'disk full'), full, { action: 'fail' }],
    ['a lost lock fails', new LockLostError('lost'), full, { action: 'fail' }],
    ['a bug fails', new TypeError('x is undefined'), full, { action: 'fail' }],
  ];

  it.each(cases)('%s', (_name, error, context, expected) => {
    expect(classifyFailure(error, context)).toEqual(expected);
  });
});
