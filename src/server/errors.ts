import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ZodError } from 'zod';
import type { Logger } from '../util/logger.js';
import { redact } from '../util/redact.js';

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

function stringProp(error: object, key: string): string | undefined {
  const value = (error as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Maps any thrown value to an HTTP answer. Errors of other layers are recognised by their class name and
 * `code` (the server does not import every layer's error module): Ashby errors, vault errors, zod errors.
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
  if (error instanceof Error) {
    const name = error.name;
    const code = stringProp(error, 'code');
    if (name === 'VaultError') {
      if (code === 'not_found') return { status: 404, code: 'not_found', message: error.message };
      if (code === 'name_taken') return { status: 409, code: 'name_taken', message: error.message };
      if (code === 'invalid_input') return { status: 422, code: 'validation_failed', message: error.message };
      return { status: 500, code: code ?? 'vault_error', message: error.message };
    }
    if (name.startsWith('Ashby')) {
      const ashbyCode = code ?? 'ashby_error';
      if (name === 'AshbyRateLimitError') {
        const ms = (error as { retryAfterMs?: unknown }).retryAfterMs;
        const out: Translated = { status: 429, code: ashbyCode, message: error.message };
        if (typeof ms === 'number') out.retryAfter = Math.ceil(ms / 1000);
        return out;
      }
      if (name === 'AshbyNotFoundError') return { status: 404, code: ashbyCode, message: error.message };
      // The key is the user's input to this server: Ashby refusing it is a 422, not our own 401/403.
      if (
        name === 'AshbyAuthError' ||
        name === 'AshbyPermissionError' ||
        name === 'AshbyInvalidInputError' ||
        name === 'AshbySyncTokenError' ||
        name === 'AshbyCursorError'
      ) {
        return { status: 422, code: ashbyCode, message: error.message };
      }
      return { status: 502, code: ashbyCode, message: error.message };
    }
    if (name === 'UsageError') return { status: 422, code: 'validation_failed', message: error.message };
    // An input file refused or unreadable (not a text file, a record over the size limit, broken JSON).
    if (name === 'InputFileError') return { status: 422, code: 'invalid_input_file', message: error.message };
  }
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
