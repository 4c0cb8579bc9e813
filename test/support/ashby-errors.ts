import {
  AshbyAuthError,
  AshbyCursorError,
  AshbyError,
  type AshbyErrorKind,
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

/** Where the errors of {@link ashbyErrorOfEachKind} happened and what they say. */
export interface ErrorSite {
  endpoint: string;
  message: string;
  requestId?: string;
}

/**
 * One error of every kind an Ashby call can fail with, each with a code Ashby (or the client) gives it,
 * keyed by the kind written by hand: a new kind does not compile here until it has its error.
 */
export function ashbyErrorOfEachKind(at: ErrorSite): Record<AshbyErrorKind, AshbyError> {
  return {
    auth: new AshbyAuthError({ ...at, code: 'unauthorized', httpStatus: 401 }),
    permission: new AshbyPermissionError({
      ...at,
      code: 'missing_endpoint_permission',
      scope: 'candidatesRead',
    }),
    'rate-limit': new AshbyRateLimitError({ ...at, code: 'rate_limit_exceeded' }),
    'invalid-input': new AshbyInvalidInputError({ ...at, code: 'invalid_input' }),
    'not-found': new AshbyNotFoundError({ ...at, code: 'candidate_not_found' }),
    'sync-token': new AshbySyncTokenError({ ...at, code: 'sync_token_expired' }),
    cursor: new AshbyCursorError({ ...at, code: 'next_cursor_expired' }),
    server: new AshbyServerError({ ...at, code: 'internal_server_error', httpStatus: 500 }),
    network: new AshbyNetworkError({ ...at, code: 'connection_refused', certainlyNotSent: true }),
    timeout: new AshbyTimeoutError({ ...at, code: 'timeout' }),
    'outcome-unknown': new AshbyOutcomeUnknownError(new AshbyTimeoutError({ ...at, code: 'timeout' })),
    // A code the client has no class for (and the code of a cursor error, which the class decides, not it).
    other: new AshbyError({ ...at, code: 'next_cursor_expired' }),
  };
}
