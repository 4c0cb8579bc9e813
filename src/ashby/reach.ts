/**
 * One call before a run, so that a cause every stream would share (nothing listening at the base URL, a
 * wrong path, a name that does not resolve, a refused key) is found after one or two attempts and said in
 * one sentence naming the server, instead of once per stream after each has spent its retries.
 */
import { AshbyClient } from './client.js';
import {
  AshbyAuthError,
  AshbyError,
  AshbyNetworkError,
  AshbyPermissionError,
  AshbyServerError,
  AshbyTimeoutError,
} from './errors.js';
import type { ClientEvent } from './types.js';

/** The server cannot serve this run at all: the message names it and the one cause. */
export class AshbyUnreachableError extends Error {
  override name = 'AshbyUnreachableError';
  constructor(
    /** The base URL that was tried. */
    readonly baseUrl: string,
    /** What is wrong: `refused`, `dns`, `connection`, `timeout`, `not-ashby`, `key`. */
    readonly reason: 'refused' | 'dns' | 'connection' | 'timeout' | 'not-ashby' | 'key',
    message: string,
  ) {
    super(message);
    this.code = reason === 'key' ? 'api_key_refused' : 'server_unreachable';
  }
  /** `api_key_refused` or `server_unreachable`, as `--json` output reports it. */
  readonly code: string;
}

/** Options of {@link checkReach}. */
export interface ReachOptions {
  apiKey: string;
  /** @example 'http://127.0.0.1:4010' */
  baseUrl: string;
  /**
   * Attempts before a network failure counts as the server's state rather than a blip.
   * @default 2
   */
  attempts?: number;
  /**
   * Time allowed for one attempt.
   * @default 15_000
   */
  timeoutMs?: number;
  /** The fetch implementation. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Sees the probe's client events (it counts as a request of the run). */
  onEvent?: (event: ClientEvent) => void;
  signal?: AbortSignal;
}

/** Where a key is checked, in Ashby's own words. */
const KEY_SCREEN = 'Admin > Integrations > API Keys';

/**
 * Calls `apiKey.info` once (twice on a network failure). Resolves when the server answers like Ashby and
 * accepts the key, even when the key may not call `apiKey.info` itself; a failing server (5xx, 429) also
 * resolves, because the run's own retries are meant for it. Throws {@link AshbyUnreachableError} otherwise.
 */
export async function checkReach(options: ReachOptions): Promise<void> {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const client = new AshbyClient({
    apiKey: options.apiKey,
    baseUrl,
    timeoutMs: options.timeoutMs ?? 15_000,
    retry: { limit: options.attempts ?? 2, backoffLimitMs: 1_000, maxRetryAfterMs: 5_000 },
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  try {
    await client.call('apiKey.info', {}, options.signal ? { signal: options.signal } : {});
  } catch (error) {
    const failure = describe(baseUrl, error);
    if (failure) throw failure;
  }
}

function describe(baseUrl: string, error: unknown): AshbyUnreachableError | undefined {
  if (!(error instanceof AshbyError) || error instanceof AshbyPermissionError) return undefined;
  const host = safeHost(baseUrl);
  if (error instanceof AshbyAuthError) {
    const why =
      error.httpStatus === 401
        ? 'no key reached it (HTTP 401)'
        : `the key is wrong or deactivated (HTTP ${error.httpStatus ?? 403})`;
    return new AshbyUnreachableError(
      baseUrl,
      'key',
      `Ashby at ${baseUrl} refused the API key: ${why}${said(error)}; check the key under ${KEY_SCREEN}`,
    );
  }
  if (error instanceof AshbyTimeoutError) {
    return new AshbyUnreachableError(baseUrl, 'timeout', `no answer from ${baseUrl}: ${error.detail}`);
  }
  if (error instanceof AshbyNetworkError) {
    if (error.code === 'connection_refused')
      return new AshbyUnreachableError(
        baseUrl,
        'refused',
        `cannot reach ${baseUrl}: connection refused (nothing is listening there); check --base-url or ASHBY_BASE_URL`,
      );
    if (error.code === 'host_not_found')
      return new AshbyUnreachableError(
        baseUrl,
        'dns',
        `cannot reach ${baseUrl}: the name ${host} does not resolve (DNS); check --base-url or ASHBY_BASE_URL`,
      );
    return new AshbyUnreachableError(
      baseUrl,
      'connection',
      `cannot reach ${baseUrl}: the connection failed (${error.code ?? 'no answer'})`,
    );
  }
  if (error.httpStatus === 404 || error.code === 'unknown_endpoint') {
    return new AshbyUnreachableError(
      baseUrl,
      'not-ashby',
      `${baseUrl} has no Ashby API at that path: POST ${baseUrl}/apiKey.info answered HTTP ${error.httpStatus ?? 404}; the base URL is the server alone (Ashby's is https://api.ashbyhq.com, without /v1)`,
    );
  }
  if (
    error instanceof AshbyServerError &&
    error.code === 'malformed_response' &&
    (error.httpStatus ?? 0) < 500
  ) {
    return new AshbyUnreachableError(
      baseUrl,
      'not-ashby',
      `${baseUrl} does not answer like Ashby's API (HTTP ${error.httpStatus}, not Ashby's JSON); check --base-url or ASHBY_BASE_URL`,
    );
  }
  return undefined;
}

/** Ashby's own explanation, when it gave one (already redacted by the error). */
function said(error: AshbyError): string {
  // The error's own sentence ends "(HTTP nnn)" followed by what the server said, if anything: keep only that.
  const own = /\(HTTP \d+\)(?::\s*([\s\S]*))?$/.exec(error.detail);
  const text = (own ? (own[1] ?? '') : error.detail).trim();
  return text === '' ? '' : ` — the server said: "${text}"`;
}

function safeHost(baseUrl: string): string {
  try {
    return new URL(baseUrl).hostname;
  } catch {
    return baseUrl;
  }
}
