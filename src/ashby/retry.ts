/**
 * The retry policy as data plus one pure decision function. Retries are decided by the endpoint's kind
 * (read, write that is safe to repeat, other write), never by the HTTP method: every Ashby call is a POST.
 */
import type { EndpointSpec } from './catalogue.js';
import {
  type AshbyError,
  AshbyNetworkError,
  AshbyRateLimitError,
  AshbyServerError,
  AshbyTimeoutError,
} from './errors.js';

/** How the client retries failed calls. Every field has a default. */
export interface RetryOptions {
  /**
   * Maximum attempts per call, the first one included; `1` disables retries.
   * @default 6
   * @example 3
   */
  limit: number;
  /**
   * Backoff before the first retry; it doubles on each further retry (before jitter).
   * @default 500
   * @example 1000
   */
  backoffBaseMs: number;
  /**
   * Upper bound of one backoff delay.
   * @default 30_000
   * @example 60_000
   */
  backoffLimitMs: number;
  /**
   * Upper bound of a wait that Ashby asks for with `Retry-After`; a longer request is shortened to this.
   * @default 120_000
   * @example 60_000
   */
  maxRetryAfterMs: number;
  /**
   * Full jitter on backoff (a random delay between 0 and the backoff), so that parallel workers
   * hitting the same limit do not retry in lockstep. Never applied to `Retry-After`.
   * @default true
   * @example false
   */
  jitter: boolean;
  /**
   * Total time one call may spend retrying, counted from its first attempt; no retry is scheduled
   * that would end later. Keeps a run from looping for hours against a failing API.
   * @default 600_000 (10 minutes)
   * @example 60_000
   */
  budgetMs: number;
  /**
   * Waits between attempts. Tests inject one that records the delay instead of sleeping.
   * @default a timer that rejects when the call's signal aborts
   * @example (ms) => { delays.push(ms); return Promise.resolve(); }
   */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The defaults of {@link RetryOptions}. */
export const DEFAULT_RETRY_OPTIONS: Readonly<RetryOptions> = Object.freeze({
  limit: 6,
  backoffBaseMs: 500,
  backoffLimitMs: 30_000,
  maxRetryAfterMs: 120_000,
  jitter: true,
  budgetMs: 600_000,
  sleep: defaultSleep,
});

/** Fills the missing fields of `options` with the defaults. */
export function resolveRetryOptions(options?: Partial<RetryOptions>): RetryOptions {
  const out: RetryOptions = { ...DEFAULT_RETRY_OPTIONS };
  for (const [k, v] of Object.entries(options ?? {})) {
    if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** What the decision needs to know about the endpoint. */
export type RetryEndpoint = Pick<EndpointSpec, 'name' | 'access' | 'retrySafe'>;

/** Input of {@link decideRetry}. */
export interface RetryInput {
  endpoint: RetryEndpoint;
  error: AshbyError;
  /** Attempts made so far, the failed one included (1 after the first attempt). */
  attempt: number;
  /** Time since the first attempt started. */
  elapsedMs: number;
  options: RetryOptions;
  /** Source of randomness in [0, 1) for jitter. */
  random: () => number;
}

/** Output of {@link decideRetry}. */
export type RetryDecision =
  | {
      retry: false;
      reason: string;
      /** The call was a write that may have taken effect: raise `AshbyOutcomeUnknownError`. */
      outcomeUnknown?: true;
    }
  | { retry: true; delayMs: number; reason: string };

/** Failures that may well go away when the request is sent again. */
function isTransient(error: AshbyError): boolean {
  return (
    error instanceof AshbyRateLimitError ||
    error instanceof AshbyServerError ||
    error instanceof AshbyNetworkError ||
    error instanceof AshbyTimeoutError
  );
}

/**
 * True when the failed request certainly did not change anything in Ashby: the connection was refused
 * before sending, or Ashby answered 429 (a throttled request is rejected, not executed).
 */
function certainlyNotApplied(error: AshbyError): boolean {
  if (error instanceof AshbyNetworkError) return error.certainlyNotSent;
  return error instanceof AshbyRateLimitError;
}

/** Decides whether and when to send a failed request again. Pure: no clock, no I/O. */
export function decideRetry(input: RetryInput): RetryDecision {
  const { endpoint, error, attempt, elapsedMs, options } = input;
  if (!isTransient(error)) return { retry: false, reason: `${error.name} is not transient` };

  const repeatable = endpoint.access === 'read' || endpoint.retrySafe;
  if (!repeatable && !certainlyNotApplied(error)) {
    return {
      retry: false,
      reason: `${endpoint.name} is a write that is not safe to repeat and may have reached Ashby`,
      outcomeUnknown: true,
    };
  }
  if (attempt >= options.limit) {
    return { retry: false, reason: `gave up after ${attempt} attempts (retry limit ${options.limit})` };
  }

  let delayMs: number;
  let reason: string;
  if (error instanceof AshbyRateLimitError && error.retryAfterMs !== undefined) {
    delayMs = Math.min(error.retryAfterMs, options.maxRetryAfterMs);
    reason = `rate limited; Ashby asked to wait ${error.retryAfterMs} ms${delayMs < error.retryAfterMs ? ` (capped to ${delayMs} ms)` : ''}`;
  } else {
    const exponential = Math.min(options.backoffLimitMs, options.backoffBaseMs * 2 ** (attempt - 1));
    delayMs = options.jitter ? Math.floor(input.random() * exponential) : exponential;
    reason = `${error.code ?? error.name}; backoff ${delayMs} ms`;
  }

  if (elapsedMs + delayMs > options.budgetMs) {
    return {
      retry: false,
      reason: `retry budget of ${options.budgetMs} ms exhausted after ${attempt} attempts in ${Math.round(elapsedMs)} ms`,
    };
  }
  return { retry: true, delayMs, reason };
}

/**
 * What to assume about an endpoint missing from the catalogue: names that read by Ashby's conventions
 * (`*.list*`, `*.info`, `*.search`) are reads; anything else is a write that is not safe to repeat.
 */
export function inferEndpoint(name: string): RetryEndpoint {
  const method = name.slice(name.indexOf('.') + 1);
  const read = /^(list|info|search)/.test(method);
  return { name, access: read ? 'read' : 'write', retrySafe: read };
}
