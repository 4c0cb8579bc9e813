import { describe, expect, it } from 'vitest';
import { type AshbyErrorKind, AshbyRateLimitError } from '../../src/ashby/errors.js';
import { InputFileError } from '../../src/push/input-file.js';
import { NotFoundError, translateError } from '../../src/server/errors.js';
import { ConfigError } from '../../src/util/errors.js';
import { VaultError } from '../../src/vault/errors.js';
import { ashbyErrorOfEachKind } from '../support/ashby-errors.js';

const at = { endpoint: 'candidate.create', message: 'refused', requestId: 'req-7' };

describe('translateError: every error a route may meet, as an HTTP status', () => {
  // Statuses written by hand from the REST API's contract: Ashby refusing the user's key or values is the
  // user's input being wrong (422), an id Ashby does not know is 404, Ashby's throttling passes through
  // as 429, and Ashby failing or out of reach is a bad gateway (502).
  const status: Record<AshbyErrorKind, number> = {
    auth: 422,
    permission: 422,
    'invalid-input': 422,
    'sync-token': 422,
    cursor: 422,
    'not-found': 404,
    'rate-limit': 429,
    server: 502,
    network: 502,
    timeout: 502,
    'outcome-unknown': 502,
    other: 502,
  };
  it.each(Object.entries(ashbyErrorOfEachKind(at)))('Ashby %s', (kind, error) => {
    const t = translateError(error);
    expect(t).toMatchObject({ status: status[kind as AshbyErrorKind], code: error.code });
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
