/**
 * The Ashby API client: the only code in ashpipe that talks HTTP to Ashby. One request is
 * `POST {baseUrl}/{endpoint}` with a JSON body and Basic auth (key as user, empty password); success
 * is decided by the envelope's `success: true`, never by the HTTP status alone, because Ashby answers
 * most client errors with HTTP 200 and `success: false`.
 */

import { ATTR, requestSpan } from '../observability/tracing.js';
import { defined } from '../util/defined.js';
import { registerSecret } from '../util/redact.js';
import { findEndpoint } from './catalogue.js';
import {
  AshbyError,
  AshbyOutcomeUnknownError,
  AshbyRateLimitError,
  errorFromResponse,
  errorFromTransportFailure,
} from './errors.js';
import { type Limiter, limiterFor } from './limiter.js';
import { itemsOf, paginate } from './paginate.js';
import { decideRetry, inferEndpoint, type RetryOptions, resolveRetryOptions } from './retry.js';
import type { AshbyPage, AshbyResult, ClientEvent, PageOptions } from './types.js';

/** Ashby's public API. */
export const DEFAULT_BASE_URL = 'https://api.ashbyhq.com';
/** Per-request timeout default; Ashby's own synchronous endpoints time out after 30 s. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** How to reach Ashby and how hard to try. */
export interface AshbyClientOptions {
  /**
   * The Ashby API key (Admin > Integrations > API Keys). Registered as a secret at construction so it is
   * masked in every log line, message and error.
   * @example process.env.ASHBY_API_KEY
   */
  apiKey: string;
  /**
   * Root URL of the API; point it at the sandbox or any Ashby-compatible server.
   * @default process.env.ASHBY_BASE_URL ?? 'https://api.ashbyhq.com'
   * @example 'http://127.0.0.1:4010'
   */
  baseUrl?: string;
  /**
   * Time allowed for one request, from sending to the last byte of the answer.
   * @default 30_000
   * @example 60_000
   */
  timeoutMs?: number;
  /**
   * Retry policy; missing fields take the defaults of {@link RetryOptions}.
   * @default DEFAULT_RETRY_OPTIONS
   * @example { limit: 3, budgetMs: 60_000 }
   */
  retry?: Partial<RetryOptions>;
  /**
   * Paces requests; shared by every client using the same key so that parallel streams respect one limit.
   * @default limiterFor(apiKey)
   * @example new Limiter({ maxConcurrent: 1 })
   */
  limiter?: Limiter;
  /**
   * The fetch implementation.
   * @default globalThis.fetch (Node's built-in, keep-alive by default)
   */
  fetch?: typeof fetch;
  /**
   * Receives progress and statistics events (requests, responses with durations, retries, 429s).
   * @example (e) => { if (e.type === 'retry') log.warn(e.reason) }
   */
  onEvent?: (event: ClientEvent) => void;
}

const ENDPOINT_NAME = /^[A-Za-z][A-Za-z0-9]*\.[A-Za-z][A-Za-z0-9_]*$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function normaliseWarnings(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.map((w) => (typeof w === 'string' ? w : JSON.stringify(w)));
}

/** A client for one API key. */
export class AshbyClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly limiter: Limiter;
  private readonly authorization: string;
  private readonly retry: RetryOptions;
  private readonly fetchImpl: typeof fetch;
  private readonly onEvent: ((event: ClientEvent) => void) | undefined;

  constructor(options: AshbyClientOptions) {
    if (!options.apiKey) throw new Error('an Ashby API key is required');
    registerSecret(options.apiKey);
    this.authorization = `Basic ${Buffer.from(`${options.apiKey}:`).toString('base64')}`;
    this.baseUrl = (options.baseUrl ?? process.env.ASHBY_BASE_URL ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retry = resolveRetryOptions(options.retry);
    this.limiter = options.limiter ?? limiterFor(options.apiKey);
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.onEvent = options.onEvent;
  }

  /** One call. Resolves when the envelope says success:true; otherwise throws a typed AshbyError. */
  async call<T = unknown>(
    endpoint: string,
    body: Record<string, unknown> = {},
    options: { signal?: AbortSignal } = {},
  ): Promise<AshbyResult<T>> {
    if (!ENDPOINT_NAME.test(endpoint)) throw new Error(`not an Ashby endpoint name: "${endpoint}"`);
    return requestSpan(endpoint, async (span) => {
      try {
        const result = await this.callWithRetries<T>(endpoint, body, options);
        span.setAttribute(ATTR.httpStatus, 200);
        if (result.requestId) span.setAttribute(ATTR.requestId, result.requestId);
        return result;
      } catch (error) {
        if (error instanceof AshbyError) {
          if (error.httpStatus !== undefined) span.setAttribute(ATTR.httpStatus, error.httpStatus);
          if (error.requestId) span.setAttribute(ATTR.requestId, error.requestId);
          if (error.code) span.setAttribute(ATTR.errorCode, error.code);
        }
        throw error;
      }
    });
  }

  private async callWithRetries<T>(
    endpoint: string,
    body: Record<string, unknown>,
    options: { signal?: AbortSignal },
  ): Promise<AshbyResult<T>> {
    const spec = findEndpoint(endpoint) ?? inferEndpoint(endpoint);
    const payload = JSON.stringify(body);
    const started = performance.now();
    // Time spent sleeping is counted as the delay scheduled, so an injected sleep sees the same budget.
    let sleepCorrectionMs = 0;
    const tickets: { last?: number } = {};
    for (let attempt = 1; ; attempt++) {
      let error: AshbyError;
      try {
        return await this.attempt<T>(endpoint, payload, attempt, options.signal, tickets);
      } catch (caught) {
        if (!(caught instanceof AshbyError)) throw caught;
        error = caught;
      }
      if (error instanceof AshbyRateLimitError) {
        this.emit({
          type: 'rateLimited',
          endpoint,
          rateLimitScope: error.rateLimitScope,
          ...defined({ retryAfterMs: error.retryAfterMs }),
        });
      }
      const decision = decideRetry({
        endpoint: spec,
        error,
        attempt,
        elapsedMs: performance.now() - started + sleepCorrectionMs,
        options: this.retry,
        random: Math.random,
      });
      if (!decision.retry) {
        throw decision.outcomeUnknown ? new AshbyOutcomeUnknownError(error) : error;
      }
      this.emit({
        type: 'retry',
        endpoint,
        attempt,
        delayMs: decision.delayMs,
        reason: decision.reason,
        ...defined({ code: error.code }),
      });
      const sleepStarted = performance.now();
      await this.retry.sleep(decision.delayMs, options.signal);
      sleepCorrectionMs += decision.delayMs - (performance.now() - sleepStarted);
    }
  }

  /** Pages of a list endpoint: limit 100, cursor ← nextCursor while moreDataAvailable. */
  pages<T = unknown>(
    endpoint: string,
    body: Record<string, unknown> = {},
    options: PageOptions = {},
  ): AsyncIterableIterator<AshbyPage<T>> {
    return paginate<T>(endpoint, findEndpoint(endpoint), (b, o) => this.call(endpoint, b, o), body, options);
  }

  /** Every item of a list endpoint, page after page. */
  items<T = unknown>(
    endpoint: string,
    body: Record<string, unknown> = {},
    options: PageOptions = {},
  ): AsyncIterableIterator<T> {
    return itemsOf(this.pages<T>(endpoint, body, options));
  }

  private emit(event: ClientEvent): void {
    if (!this.onEvent) return;
    try {
      this.onEvent(event);
    } catch {
      // A broken progress display must not fail the call.
    }
  }

  /** One HTTP exchange inside a limiter slot. Throws AshbyError for every failure but the caller's abort. */
  private async attempt<T>(
    endpoint: string,
    payload: string,
    attempt: number,
    signal: AbortSignal | undefined,
    tickets: { last?: number },
  ): Promise<AshbyResult<T>> {
    const release = await this.limiter.acquire(signal, { resuming: tickets.last });
    tickets.last = release.ticket;
    try {
      this.emit({ type: 'request', endpoint, attempt });
      const timeout = AbortSignal.timeout(this.timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
      const started = performance.now();
      let response: Response;
      try {
        response = await this.fetchImpl(`${this.baseUrl}/${endpoint}`, {
          method: 'POST',
          headers: {
            Authorization: this.authorization,
            'Content-Type': 'application/json',
            Accept: 'application/json; version=1',
          },
          body: payload,
          signal: combined,
        });
      } catch (cause) {
        if (signal?.aborted) throw signal.reason;
        throw errorFromTransportFailure(endpoint, cause, {
          timedOut: timeout.aborted,
          timeoutMs: this.timeoutMs,
          phase: 'request',
        });
      }
      let bodyText: string;
      try {
        bodyText = await response.text();
      } catch (cause) {
        if (signal?.aborted) throw signal.reason;
        throw errorFromTransportFailure(endpoint, cause, {
          timedOut: timeout.aborted,
          timeoutMs: this.timeoutMs,
          phase: 'body',
          httpStatus: response.status,
        });
      }
      const durationMs = performance.now() - started;
      const result = this.successOf<T>(response.status, bodyText);
      if (result) {
        this.limiter.onSuccess();
        this.emit({
          type: 'response',
          endpoint,
          attempt,
          httpStatus: response.status,
          durationMs,
          success: true,
          ...defined({ requestId: result.requestId }),
        });
        return result;
      }
      const error = errorFromResponse({
        endpoint,
        httpStatus: response.status,
        headers: response.headers,
        bodyText,
      });
      if (error instanceof AshbyRateLimitError) {
        // Told before the slot is freed, so that no queued request of this key starts in between.
        this.limiter.onRateLimited({
          retryAfterMs:
            error.retryAfterMs === undefined
              ? undefined
              : Math.min(error.retryAfterMs, this.retry.maxRetryAfterMs),
          ticket: release.ticket,
          kind: error.code === 'concurrent_limit_exceeded' ? 'concurrency' : 'rate',
        });
      }
      this.emit({
        type: 'response',
        endpoint,
        attempt,
        httpStatus: response.status,
        durationMs,
        success: false,
        ...defined({ code: error.code, requestId: error.requestId }),
      });
      throw error;
    } finally {
      release();
    }
  }

  /** The result of a success envelope; undefined for anything else. */
  private successOf<T>(httpStatus: number, bodyText: string): AshbyResult<T> | undefined {
    if (httpStatus < 200 || httpStatus >= 300) return undefined;
    let body: unknown;
    try {
      body = JSON.parse(bodyText);
    } catch {
      return undefined;
    }
    if (!isRecord(body) || body.success !== true) return undefined;
    const result: AshbyResult<T> = {
      results: body.results as T,
      warnings: normaliseWarnings(body.warnings),
    };
    if (typeof body.moreDataAvailable === 'boolean') result.moreDataAvailable = body.moreDataAvailable;
    if (typeof body.nextCursor === 'string') result.nextCursor = body.nextCursor;
    if (typeof body.syncToken === 'string') result.syncToken = body.syncToken;
    if (typeof body.requestId === 'string') result.requestId = body.requestId;
    return result;
  }
}
