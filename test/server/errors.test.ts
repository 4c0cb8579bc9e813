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
} from '../../src/ashby/errors.js';
import { InputFileError } from '../../src/push/input-file.js';
import { NotFoundError, translateError } from '../../src/server/errors.js';
import { ConfigError } from '../../src/util/errors.js';
import { VaultError } from '../../src/vault/errors.js';

const at = { endpoint: 'candidate.create', message: 'refused', requestId: 'req-7' };

describe('translateError: every error a route may meet, as an HTTP status', () => {
  // Statuses written by hand from the REST API's contract: Ashby refusing the user's key or values is the
  // user's input being wrong (422), an id Ashby does not know is 404, Ashby's throttling passes through
  // as 429, and Ashby failing or out of reach is a bad gateway (502).
  it.each([
    ['auth', new AshbyAuthError({ ...at, code: 'unauthorized', httpStatus: 401 }), 422, 'unauthorized'],
    [
      'permission',
      new AshbyPermissionError({ ...at, code: 'missing_endpoint_permission' }),
      422,
      'missing_endpoint_permission',
    ],
    ['invalid input', new AshbyInvalidInputError({ ...at, code: 'invalid_input' }), 422, 'invalid_input'],
    ['sync token', new AshbySyncTokenError({ ...at, code: 'sync_token_expired' }), 422, 'sync_token_expired'],
    ['cursor', new AshbyCursorError({ ...at, code: 'next_cursor_expired' }), 422, 'next_cursor_expired'],
    ['not found', new AshbyNotFoundError({ ...at, code: 'candidate_not_found' }), 404, 'candidate_not_found'],
    [
      'rate limit',
      new AshbyRateLimitError({ ...at, code: 'rate_limit_exceeded' }),
      429,
      'rate_limit_exceeded',
    ],
    [
      'server',
      new AshbyServerError({ ...at, code: 'internal_server_error', httpStatus: 500 }),
      502,
      'internal_server_error',
    ],
    [
      'network',
      new AshbyNetworkError({ ...at, code: 'connection_refused', certainlyNotSent: true }),
      502,
      'connection_refused',
    ],
    ['timeout', new AshbyTimeoutError({ ...at, code: 'timeout' }), 502, 'timeout'],
    [
      'outcome unknown',
      new AshbyOutcomeUnknownError(new AshbyTimeoutError({ ...at, code: 'timeout' })),
      502,
      'timeout',
    ],
    [
      'an Ashby code without a class',
      new AshbyError({ ...at, code: 'application_closed' }),
      502,
      'application_closed',
    ],
  ])('Ashby %s → %i', (_, error, status, code) => {
    const t = translateError(error);
    expect(t).toMatchObject({ status, code });
    expect(t.message).toContain('refused');
  });

  it('passes the Retry-After of a rate limit on, in whole seconds', () => {
    const error = new AshbyRateLimitError({ ...at, code: 'rate_limit_exceeded', retryAfterMs: 2_500 });
    expect(translateError(error).retryAfter).toBe(3);
    expect(translateError(new AshbyRateLimitError(at)).retryAfter).toBeUndefined();
  });

  it('a refused setting of a lower layer (ConfigError) is a 422 naming it', () => {
    expect(translateError(new ConfigError('sqlite target needs a file path'))).toEqual({
      status: 422,
      code: 'validation_failed',
      message: 'sqlite target needs a file path',
    });
  });

  it('vault errors, input files and the server’s own errors keep their statuses', () => {
    expect(translateError(new VaultError('not_found', 'no credential x'))).toMatchObject({
      status: 404,
      code: 'not_found',
    });
    expect(translateError(new VaultError('name_taken', 'taken'))).toMatchObject({
      status: 409,
      code: 'name_taken',
    });
    expect(translateError(new VaultError('invalid_input', 'bad'))).toMatchObject({
      status: 422,
      code: 'validation_failed',
    });
    expect(translateError(new VaultError('tampered', 'the vault was altered'))).toMatchObject({
      status: 500,
      code: 'tampered',
    });
    expect(translateError(new InputFileError('not a text file'))).toMatchObject({
      status: 422,
      code: 'invalid_input_file',
    });
    expect(translateError(new NotFoundError('flow', 'f1'))).toMatchObject({
      status: 404,
      message: 'flow f1 does not exist.',
    });
  });

  it('an error that only looks like one of ours by its name is an internal error that shows nothing', () => {
    for (const name of ['AshbyNotFoundError', 'ConfigError', 'UsageError', 'VaultError']) {
      const lookalike = Object.assign(new Error('secret detail'), { name, code: 'not_found' });
      expect(translateError(lookalike)).toEqual({
        status: 500,
        code: 'internal_error',
        message: 'Internal server error; see the server log.',
      });
    }
  });
});
