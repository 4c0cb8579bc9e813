/**
 * Errors raised for Ashby calls: one base class with a subclass per cause, built by one factory
 * ({@link errorFromResponse}) from what Ashby answered, or by {@link errorFromTransportFailure} when no
 * answer arrived. Every message passes through the redaction module at construction, so an API key
 * echoed by a server (or a proxy) never leaves an error, its stack or its JSON.
 */

import { redact, redactDeep } from '../util/redact.js';
import { describeScope, findEndpoint, type Scope } from './catalogue.js';

/** What every Ashby error is built from. */
export interface AshbyErrorInit {
  /** The endpoint called, e.g. `candidate.create`. */
  endpoint: string;
  /** Ashby's error code (`errorInfo.code`), or ashpipe's own for failures without an answer. */
  code?: string | undefined;
  /** A human-readable explanation; the endpoint, code and requestId are appended to it. */
  message: string;
  /** Ashby's opaque request id, which Ashby support can look up. */
  requestId?: string | undefined;
  /** HTTP status of the answer; absent when no answer arrived. */
  httpStatus?: number | undefined;
  /** `errorInfo.meta` as Ashby sent it. */
  meta?: Record<string, unknown> | undefined;
  cause?: unknown;
}

/** Base of every error raised for an Ashby call. Never carries the API key. */
export class AshbyError extends Error {
  override name = 'AshbyError';
  readonly endpoint: string;
  readonly code: string | undefined;
  readonly requestId: string | undefined;
  readonly httpStatus: number | undefined;
  readonly meta: Record<string, unknown> | undefined;
  /** The explanation without the appended endpoint/code/requestId. */
  readonly detail: string;

  constructor(init: AshbyErrorInit) {
    const detail = redact(init.message);
    super(composeMessage(init.endpoint, detail, init.code, init.requestId), { cause: init.cause });
    this.endpoint = init.endpoint;
    this.code = init.code;
    this.requestId = init.requestId;
    this.httpStatus = init.httpStatus;
    this.meta = init.meta === undefined ? undefined : redactDeep(init.meta);
    this.detail = detail;
  }

  /** What logs, the CLI's `--json` output and the REST API show of the error. */
  toJSON(): Record<string, unknown> {
    return redactDeep({
      name: this.name,
      endpoint: this.endpoint,
      code: this.code,
      message: this.message,
      requestId: this.requestId,
      httpStatus: this.httpStatus,
    });
  }
}

function composeMessage(endpoint: string, detail: string, code?: string, requestId?: string): string {
  const tags = [code ? `code=${code}` : undefined, requestId ? `requestId=${requestId}` : undefined].filter(
    (t) => t !== undefined,
  );
  return redact(`${endpoint}: ${detail}${tags.length > 0 ? ` [${tags.join(', ')}]` : ''}`);
}

/** The key is missing (HTTP 401), wrong or deactivated (HTTP 403). */
export class AshbyAuthError extends AshbyError {
  override name = 'AshbyAuthError';
}

/** The key lacks the module permission an endpoint needs (`missing_endpoint_permission`). */
export class AshbyPermissionError extends AshbyError {
  override name = 'AshbyPermissionError';
  /** The permission the endpoint needs, from the catalogue; undefined for endpoints ashpipe does not know. */
  readonly scope: Scope | undefined;
  /** The module as an admin sees it, e.g. `Candidates`. */
  readonly module: string | undefined;
  /** E.g. `needs Candidates: Write (candidatesWrite)`. */
  readonly label: string | undefined;
  constructor(init: AshbyErrorInit & { scope?: Scope | null | undefined }) {
    const scope = init.scope ?? undefined;
    const described = scope ? describeScope(scope) : undefined;
    const label = scope && described ? `needs ${described.label} (${scope})` : undefined;
    const message = label
      ? `${init.endpoint} ${label}; grant "${described?.label}" to the API key under Admin > Integrations > API Keys (Ashby: ${init.message})`
      : `the API key lacks the permission this endpoint needs (Ashby: ${init.message})`;
    super({ ...init, message });
    this.scope = scope;
    this.module = described?.module;
    this.label = label;
  }
}

/** Ashby throttled the request (HTTP 429). */
export class AshbyRateLimitError extends AshbyError {
  override name = 'AshbyRateLimitError';
  /** How long Ashby asked to wait (`Retry-After`); undefined when it did not say or said it unreadably. */
  readonly retryAfterMs: number | undefined;
  /** `integration-partner` when the partner's combined traffic was throttled, else `api-key`. */
  readonly rateLimitScope: string;
  constructor(
    init: AshbyErrorInit & { retryAfterMs?: number | undefined; rateLimitScope?: string | undefined },
  ) {
    super(init);
    this.retryAfterMs = init.retryAfterMs;
    this.rateLimitScope = init.rateLimitScope ?? 'api-key';
  }
}

/** One problem Ashby reported with the request body. */
export interface AshbyInputProblem {
  message: string;
  parameter?: string;
}

/** Ashby rejected the request body (`invalid_input`). */
export class AshbyInvalidInputError extends AshbyError {
  override name = 'AshbyInvalidInputError';
  readonly problems: readonly AshbyInputProblem[];
  constructor(init: AshbyErrorInit & { problems?: readonly AshbyInputProblem[] }) {
    super(init);
    this.problems = init.problems ?? [];
  }
}

/** An id Ashby does not know — or one the key may not see (confidential jobs and projects look the same). */
export class AshbyNotFoundError extends AshbyError {
  override name = 'AshbyNotFoundError';
}

/** The stored syncToken can no longer be used; discard it and run a full sync. */
export class AshbySyncTokenError extends AshbyError {
  override name = 'AshbySyncTokenError';
}

/** The pagination cursor expired or cannot be decoded; restart the pass from the first page. */
export class AshbyCursorError extends AshbyError {
  override name = 'AshbyCursorError';
}

/** Ashby failed: HTTP 5xx, an HTML page, a truncated or non-JSON body. */
export class AshbyServerError extends AshbyError {
  override name = 'AshbyServerError';
}

/** No answer: the connection failed. */
export class AshbyNetworkError extends AshbyError {
  override name = 'AshbyNetworkError';
  /**
   * True when the request certainly never reached Ashby (connection refused, name not resolved), so
   * even a write may be sent again.
   */
  readonly certainlyNotSent: boolean;
  constructor(init: AshbyErrorInit & { certainlyNotSent: boolean }) {
    super(init);
    this.certainlyNotSent = init.certainlyNotSent;
  }
}

/** No answer within the client's per-request timeout. */
export class AshbyTimeoutError extends AshbyError {
  override name = 'AshbyTimeoutError';
}

/**
 * A write failed in a way that leaves its outcome unknown: it may or may not have taken effect in Ashby.
 * The caller must reconcile (look the record up) before sending it again. `cause` is the failure seen.
 */
export class AshbyOutcomeUnknownError extends AshbyError {
  override name = 'AshbyOutcomeUnknownError';
  declare readonly cause: AshbyError;
  constructor(cause: AshbyError) {
    super({
      endpoint: cause.endpoint,
      code: cause.code,
      requestId: cause.requestId,
      httpStatus: cause.httpStatus,
      message: `outcome unknown: the write may or may not have reached Ashby (${cause.detail}); check before sending it again`,
      cause,
    });
  }
}

/**
 * What an Ashby error means to a caller, decided by its class (never by its code string):
 * - `auth`: the key is missing, wrong or deactivated; nothing else will work with it.
 * - `permission`: the key lacks the module an endpoint needs; other endpoints may still work.
 * - `rate-limit`: Ashby throttled the request (the client has already retried within its policy).
 * - `invalid-input`: Ashby refused the request body.
 * - `not-found`: the id is unknown to Ashby, or hidden from the key (confidential records).
 * - `sync-token`: the stored `syncToken` is unusable; discard it and read in full.
 * - `cursor`: the pagination cursor expired or is unreadable; restart the pass.
 * - `server`, `network`, `timeout`: Ashby failed or could not be reached (after retries).
 * - `outcome-unknown`: a write may or may not have taken effect.
 * - `other`: an error Ashby reported with a code ashpipe has no class for.
 */
export type AshbyErrorKind =
  | 'auth'
  | 'permission'
  | 'rate-limit'
  | 'invalid-input'
  | 'not-found'
  | 'sync-token'
  | 'cursor'
  | 'server'
  | 'network'
  | 'timeout'
  | 'outcome-unknown'
  | 'other';

/** The subclasses in the order they are tested; a subclass of a subclass would come before its parent. */
const KINDS: ReadonlyArray<readonly [abstract new (...args: never[]) => AshbyError, AshbyErrorKind]> = [
  [AshbyAuthError, 'auth'],
  [AshbyPermissionError, 'permission'],
  [AshbyRateLimitError, 'rate-limit'],
  [AshbyInvalidInputError, 'invalid-input'],
  [AshbyNotFoundError, 'not-found'],
  [AshbySyncTokenError, 'sync-token'],
  [AshbyCursorError, 'cursor'],
  [AshbyServerError, 'server'],
  [AshbyNetworkError, 'network'],
  [AshbyTimeoutError, 'timeout'],
  [AshbyOutcomeUnknownError, 'outcome-unknown'],
];

/**
 * The kind of an Ashby error (see {@link AshbyErrorKind}), or `undefined` for anything that is not an
 * {@link AshbyError} (a bug, a storage failure). Sync, push and the server decide by this one function.
 * @example if (classifyAshbyError(error) === 'not-found') skipParent();
 */
export function classifyAshbyError(error: unknown): AshbyErrorKind | undefined {
  if (!(error instanceof AshbyError)) return undefined;
  for (const [type, kind] of KINDS) if (error instanceof type) return kind;
  return 'other';
}

/**
 * What sync results, the push quarantine and results, and the console's run reports keep of an error:
 * redacted, without stack or cause, the same shape everywhere.
 */
export interface ErrorInfo {
  /**
   * Ashby's code (`errorInfo.code`, e.g. `invalid_input`), ashpipe's own for failures without an answer
   * (e.g. `timeout`), else the error's own `code` or its class name (`AshbyServerError`).
   */
  code: string;
  /** The explanation, without the endpoint, code and requestId that have fields of their own. */
  message: string;
  /** Ashby's request id, which Ashby support can look up; absent when no answer arrived. */
  requestId?: string;
  /** The request parameter Ashby named as wrong (the first one), e.g. `email`. */
  path?: string;
}

/**
 * The {@link ErrorInfo} of any thrown value. For an {@link AshbyError} its code, explanation, requestId
 * and first named parameter; for anything else its own `code` (or class name) and message, redacted.
 * @example toErrorInfo(new AshbyNotFoundError({endpoint: 'candidate.info', code: 'candidate_not_found', message: 'no such candidate'}))
 *   // → {code: 'candidate_not_found', message: 'no such candidate'}
 */
export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof AshbyError) {
    const info: ErrorInfo = { code: error.code ?? error.name, message: error.detail };
    if (error.requestId !== undefined) info.requestId = error.requestId;
    const parameter =
      error instanceof AshbyInvalidInputError
        ? error.problems.find((p) => p.parameter !== undefined)?.parameter
        : undefined;
    if (parameter !== undefined) info.path = parameter;
    return info;
  }
  if (error instanceof Error) {
    const own = (error as Error & { code?: unknown }).code;
    return { code: typeof own === 'string' ? own : error.name, message: redact(error.message) };
  }
  return { code: 'error', message: redact(String(error)) };
}

/** Error codes that mean the syncToken must be discarded. */
const SYNC_TOKEN_CODES = ['sync_token_expired', 'sync_token_invalid', 'incremental_sync_too_large'] as const;
/** Error codes that mean the cursor must be discarded (`cursor_invalid` seen in third-party mocks). */
const CURSOR_CODES = ['next_cursor_expired', 'invalid_next_cursor', 'cursor_invalid'] as const;
const RATE_LIMIT_CODES = ['rate_limit_exceeded', 'concurrent_limit_exceeded', 'rate_limited'];

/** What Ashby answered, as far as the transport could read it. */
export interface AshbyResponseInfo {
  endpoint: string;
  httpStatus: number;
  /** Response headers (only `retry-after`, `x-ratelimit-scope` and `content-type` are read). */
  headers: Headers | Record<string, string | undefined>;
  /** The raw body text. */
  bodyText: string;
  /** Used to resolve an HTTP-date `Retry-After`. @default Date.now() */
  now?: number;
}

function header(headers: AshbyResponseInfo['headers'], name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/** Parses `Retry-After` (seconds or HTTP date) into milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // A date must look like one: Date.parse accepts odd strings such as "1" or "-5".
  if (!/[a-z]{3}/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const CODE_SHAPE = /^[a-z][a-z0-9_]*$/;

/** The fields of Ashby's failure envelope, whichever of its shapes was used. */
interface FailureParts {
  code: string | undefined;
  message: string | undefined;
  requestId: string | undefined;
  meta: Record<string, unknown> | undefined;
  problems: AshbyInputProblem[];
}

function failureParts(body: unknown): FailureParts {
  const parts: FailureParts = {
    code: undefined,
    message: undefined,
    requestId: undefined,
    meta: undefined,
    problems: [],
  };
  if (!isRecord(body)) return parts;
  const info = body.errorInfo;
  if (isRecord(info)) {
    if (typeof info.code === 'string') parts.code = info.code;
    if (typeof info.message === 'string') parts.message = info.message;
    if (typeof info.requestId === 'string') parts.requestId = info.requestId;
    if (isRecord(info.meta)) parts.meta = info.meta;
  }
  const messages: string[] = [];
  if (Array.isArray(body.errors)) {
    for (const e of body.errors) {
      if (typeof e === 'string') {
        messages.push(e);
        parts.code ??= CODE_SHAPE.test(e) ? e : undefined;
      } else if (isRecord(e) && typeof e.message === 'string') {
        const problem: AshbyInputProblem = { message: e.message };
        if (typeof e.parameter === 'string') problem.parameter = e.parameter;
        parts.problems.push(problem);
        messages.push(problem.parameter ? `${problem.parameter}: ${problem.message}` : problem.message);
      }
    }
  }
  if (parts.code === undefined && parts.problems.some((p) => p.parameter !== undefined)) {
    parts.code = 'invalid_input';
  }
  if (parts.message === undefined && messages.length > 0) parts.message = messages.join('; ');
  if (typeof body.requestId === 'string') parts.requestId ??= body.requestId;
  return parts;
}

/**
 * What an answer that is not Ashby's JSON was, without its text: a base URL may point at any service (a
 * proxy's error page, an internal server), and its body must never be echoed into errors, logs or the API.
 */
function describeForeignBody(text: string, contentType: string | undefined): string {
  if (text.trim() === '') return 'an empty answer';
  const type = contentType?.split(';')[0]?.trim();
  return `an answer that is not Ashby's JSON (${Buffer.byteLength(text)} bytes${type ? ` of ${type}` : ''}; not shown)`;
}

/**
 * Builds the typed error for an answer that is not a success envelope. The caller has already decided
 * the answer is a failure; this decides which one.
 */
export function errorFromResponse(response: AshbyResponseInfo): AshbyError {
  const { endpoint, httpStatus, bodyText } = response;
  let body: unknown;
  let parsed = false;
  try {
    body = JSON.parse(bodyText);
    parsed = true;
  } catch {
    parsed = false;
  }
  const parts = failureParts(body);
  const base = {
    endpoint,
    httpStatus,
    code: parts.code,
    requestId: parts.requestId,
    meta: parts.meta,
  };
  const said =
    parts.message ??
    (parsed ? undefined : describeForeignBody(bodyText, header(response.headers, 'content-type')));
  const code = parts.code;

  if (httpStatus === 401) {
    return new AshbyAuthError({
      ...base,
      code: code ?? 'unauthorized',
      message: `Ashby rejected the request as unauthenticated: the API key is missing (HTTP 401)${said ? `: ${said}` : ''}`,
    });
  }
  if (code === 'missing_endpoint_permission') {
    return new AshbyPermissionError({
      ...base,
      message: said ?? 'missing endpoint permission',
      scope: findEndpoint(endpoint)?.scope,
    });
  }
  if (httpStatus === 403) {
    return new AshbyAuthError({
      ...base,
      code: code ?? 'forbidden',
      message: `Ashby refused the API key: it is wrong or deactivated (HTTP 403)${said ? `: ${said}` : ''}`,
    });
  }
  if (httpStatus === 429 || (code !== undefined && RATE_LIMIT_CODES.includes(code))) {
    const retryAfterMs = parseRetryAfter(header(response.headers, 'retry-after'), response.now);
    const rateLimitScope = header(response.headers, 'x-ratelimit-scope');
    return new AshbyRateLimitError({
      ...base,
      code: code ?? 'rate_limited',
      message: `rate limited by Ashby${rateLimitScope ? ` (scope ${rateLimitScope})` : ''}${said ? `: ${said}` : ''}`,
      retryAfterMs,
      rateLimitScope,
    });
  }
  if (httpStatus >= 500) {
    return new AshbyServerError({
      ...base,
      code: code ?? 'server_error',
      message: `Ashby failed with HTTP ${httpStatus}${said ? `: ${said}` : ''}`,
    });
  }
  if (!parsed || !isRecord(body) || typeof body.success !== 'boolean') {
    const contentType = header(response.headers, 'content-type') ?? 'no content type';
    const what = !parsed
      ? bodyText.trimStart().startsWith('<')
        ? 'an HTML page'
        : bodyText.length === 0
          ? 'an empty body'
          : 'a truncated or non-JSON body'
      : 'JSON without a success flag';
    return new AshbyServerError({
      ...base,
      code: 'malformed_response',
      message: `Ashby answered HTTP ${httpStatus} with ${what} (${contentType}${parsed ? '' : `, ${Buffer.byteLength(bodyText)} bytes, not shown`})${parts.message ? `: ${parts.message}` : ''}`,
    });
  }
  if (code === undefined) {
    return new AshbyError({
      ...base,
      message: `Ashby reported a failure without an error code${said ? `: ${said}` : ''}`,
    });
  }
  if (code === 'invalid_input') {
    return new AshbyInvalidInputError({
      ...base,
      message: `Ashby rejected the request body${said ? `: ${said}` : ''}`,
      problems: parts.problems,
    });
  }
  if (code === 'not_found' || code.endsWith('_not_found')) {
    return new AshbyNotFoundError({
      ...base,
      message: `${said ?? 'not found'} (Ashby also answers "not found" for records the key may not see, such as confidential jobs and projects and their candidates)`,
    });
  }
  if ((SYNC_TOKEN_CODES as readonly string[]).includes(code)) {
    return new AshbySyncTokenError({
      ...base,
      message: `${said ?? code}; discard the stored syncToken and run a full sync`,
    });
  }
  if ((CURSOR_CODES as readonly string[]).includes(code)) {
    return new AshbyCursorError({
      ...base,
      message: `${said ?? code}; restart the pass from the first page`,
    });
  }
  return new AshbyError({ ...base, message: said ?? code });
}

/** Error codes of Node's network stack that mean the request never left this machine. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EADDRNOTAVAIL']);

function errorCodes(error: unknown, depth = 0): string[] {
  if (!isRecord(error) && !(error instanceof Error)) return [];
  if (depth > 4) return [];
  const record = error as unknown as Record<string, unknown>;
  const codes: string[] = [];
  if (typeof record.code === 'string') codes.push(record.code);
  if (Array.isArray(record.errors)) for (const e of record.errors) codes.push(...errorCodes(e, depth + 1));
  if (record.cause !== undefined) codes.push(...errorCodes(record.cause, depth + 1));
  return codes;
}

/**
 * Builds the typed error for a request that got no (complete) answer: a timeout, a refused connection
 * or a connection that broke. `phase` says whether the response head had already arrived.
 */
export function errorFromTransportFailure(
  endpoint: string,
  cause: unknown,
  options: { timedOut: boolean; timeoutMs: number; phase: 'request' | 'body'; httpStatus?: number },
): AshbyError {
  if (options.timedOut) {
    return new AshbyTimeoutError({
      endpoint,
      code: 'timeout',
      httpStatus: options.httpStatus,
      message: `no ${options.phase === 'body' ? 'complete ' : ''}answer from Ashby within ${options.timeoutMs} ms`,
      cause,
    });
  }
  const codes = errorCodes(cause);
  const causeMessage = cause instanceof Error ? cause.message : String(cause);
  if (options.phase === 'body') {
    return new AshbyServerError({
      endpoint,
      code: 'truncated_response',
      httpStatus: options.httpStatus,
      message: `the connection broke while Ashby's answer was being read (${codes[0] ?? causeMessage})`,
      cause,
    });
  }
  const notSent = codes.find((c) => NOT_SENT_CODES.has(c));
  if (notSent) {
    return new AshbyNetworkError({
      endpoint,
      code: notSent === 'ECONNREFUSED' ? 'connection_refused' : 'host_not_found',
      message: `could not connect to Ashby (${notSent}); the request was not sent`,
      certainlyNotSent: true,
      cause,
    });
  }
  return new AshbyNetworkError({
    endpoint,
    code: 'connection_lost',
    message: `the connection to Ashby failed after the request may have been sent (${codes[0] ?? causeMessage})`,
    certainlyNotSent: false,
    cause,
  });
}
