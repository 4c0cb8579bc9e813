import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ZodError } from 'zod';
import { AshbyError, type AshbyErrorKind, AshbyRateLimitError, classifyAshbyError } from '../ashby/errors.js';
import { InputFileError } from '../push/input-file.js';
import { ConfigError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { redact } from '../util/redact.js';
import { VaultError } from '../vault/errors.js';

/** An error a route throws on purpose; `onError` turns it into `{error: {code, message}}`. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** 400: the request cannot be read at all (bad JSON, wrong content type). */
export class BadRequestError extends HttpError {
  constructor(message: string, code = 'bad_request') {
    super(400, code, message);
  }
}

/** 401: no valid session or API token. */
export class UnauthorizedError extends HttpError {
  constructor(message = 'Log in or send an API token (Authorization: Bearer …).', code = 'unauthorized') {
    super(401, code, message);
  }
}

/** 403: authenticated, but the request is refused (CSRF check, setup already done). */
export class ForbiddenError extends HttpError {
  constructor(message: string, code = 'forbidden') {
    super(403, code, message);
  }
}

/** 404: no such resource. */
export class NotFoundError extends HttpError {
  constructor(what: string, id: string) {
    super(404, 'not_found', `${what} ${id} does not exist.`);
  }
}

/** 409: the resource is in a state that refuses the request (a run already going, a name taken). */
export class ConflictError extends HttpError {
  constructor(message: string, code = 'conflict', details?: unknown) {
    super(409, code, message, details);
  }
}

/** 422: the body is well-formed JSON but its values are not acceptable. */
export class ValidationError extends HttpError {
  constructor(message: string, details?: unknown, code = 'validation_failed') {
    super(422, code, message, details);
  }
}

/** 429: too many attempts; `retryAfterSeconds` goes into `Retry-After`. */
export class TooManyRequestsError extends HttpError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(429, 'too_many_requests', message);
  }
}

interface Translated {
  status: ContentfulStatusCode;
  code: string;
  message: string;
  details?: unknown;
  retryAfter?: number;
}

/**
 * The HTTP status of each kind of Ashby error. The key is the user's input to this server: Ashby refusing
 * it (or a body built from the user's values) is a 422, never this server's own 401/403.
 */
const ASHBY_STATUS: Record<AshbyErrorKind, ContentfulStatusCode> = {
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

/**
 * Maps any thrown value to an HTTP answer, by class: the server's own errors, zod errors, Ashby errors
 * (by {@link classifyAshbyError}), vault errors, a refused setting ({@link ConfigError}) and a refused input
 * file. Anything else is a 500 that shows nothing of the error.
 */
export function translateError(error: unknown): Translated {
  if (error instanceof HttpError) {
    const out: Translated = { status: error.status, code: error.code, message: error.message };
    if (error.details !== undefined) out.details = error.details;
    if (error instanceof TooManyRequestsError) out.retryAfter = error.retryAfterSeconds;
    return out;
  }
  if (error instanceof ZodError) {
    return {
      status: 422,
      code: 'validation_failed',
      message: error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
      details: error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    };
  }
  if (error instanceof VaultError) {
    if (error.code === 'not_found') return { status: 404, code: 'not_found', message: error.message };
    if (error.code === 'name_taken') return { status: 409, code: 'name_taken', message: error.message };
    if (error.code === 'invalid_input')
      return { status: 422, code: 'validation_failed', message: error.message };
    return { status: 500, code: error.code, message: error.message };
  }
  const kind = classifyAshbyError(error);
  if (kind !== undefined && error instanceof AshbyError) {
    const out: Translated = {
      status: ASHBY_STATUS[kind],
      code: error.code ?? 'ashby_error',
      message: error.message,
    };
    if (error instanceof AshbyRateLimitError && error.retryAfterMs !== undefined)
      out.retryAfter = Math.ceil(error.retryAfterMs / 1000);
    return out;
  }
  if (error instanceof ConfigError) return { status: 422, code: 'validation_failed', message: error.message };
  // An input file refused or unreadable (not a text file, a record over the size limit, broken JSON).
  if (error instanceof InputFileError)
    return { status: 422, code: 'invalid_input_file', message: error.message };
  return { status: 500, code: 'internal_error', message: 'Internal server error; see the server log.' };
}

/** The one `onError` of the app. */
export function errorHandler(logger: Logger) {
  return (error: Error, c: Context) => {
    const t = translateError(error);
    if (t.status >= 500) {
      logger.error('request failed', {
        method: c.req.method,
        path: c.req.path,
        error: redact(error.stack ?? error.message),
      });
    }
    if (t.retryAfter !== undefined) c.header('Retry-After', String(t.retryAfter));
    const body: { error: { code: string; message: string; details?: unknown } } = {
      error: { code: t.code, message: redact(t.message) },
    };
    if (t.details !== undefined) body.error.details = t.details;
    return c.json(body, t.status);
  };
}
