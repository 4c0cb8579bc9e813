/**
 * The request limiter shared by everything that uses one API key in this process: a cap on concurrent
 * requests, an optional cap on request starts per second, both halved on a 429 and recovered gradually
 * on successes. Ashby publishes no general rate limit; its limits apply per organisation and per key
 * (see the notes on rate limits), and peers saw 429s at a concurrency of 3–4.
 */
import { createHash } from 'node:crypto';

/** Default concurrency: integrations running 3–4 parallel requests per key saw 429s; 2 did not. */
export const DEFAULT_MAX_CONCURRENT = 2;

/** How a limiter paces requests. */
export interface LimiterOptions {
  /**
   * Most requests in flight at once.
   * @default 2
   * @example 1
   */
  maxConcurrent?: number;
  /**
   * Most request starts per second; no cap when absent.
   * @default undefined
   * @example 5
   */
  requestsPerSecond?: number;
  /**
   * Successes needed after a 429 (or after the previous recovery step) before the limits grow one step
   * back towards the configured ones.
   * @default 20
   * @example 50
   */
  recoverAfterSuccesses?: number;
}

/** Counters a limiter keeps for tests, progress displays and run statistics. */
export interface LimiterStats {
  inFlight: number;
  maxInFlightSeen: number;
  queued: number;
  /** 429 answers reported to the limiter. */
  rateLimited: number;
  /** Requests started through the limiter. */
  started: number;
  /** Current concurrency cap (lowered after 429s). */
  effectiveConcurrency: number;
  /** Current rate cap (lowered after 429s); undefined when no rate cap is configured. */
  effectiveRequestsPerSecond: number | undefined;
}

/** Releases a slot taken with {@link Limiter.acquire}; calling it twice is harmless. */
export type Release = () => void;

interface Waiter {
  resolve: (release: Release) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Paces the requests made with one API key. */
export class Limiter {
  readonly maxConcurrent: number;
  readonly requestsPerSecond: number | undefined;
  private readonly recoverAfter: number;
  private concurrency: number;
  private rate: number | undefined;
  private successesSinceChange = 0;
  private inFlight = 0;
  private maxInFlightSeen = 0;
  private rateLimitedCount = 0;
  private startedCount = 0;
  private nextStartAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly queue: Waiter[] = [];

  constructor(options: LimiterOptions = {}) {
    this.maxConcurrent = Math.max(1, Math.floor(options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT));
    this.requestsPerSecond =
      options.requestsPerSecond !== undefined && options.requestsPerSecond > 0
        ? options.requestsPerSecond
        : undefined;
    this.recoverAfter = Math.max(1, options.recoverAfterSuccesses ?? 20);
    this.concurrency = this.maxConcurrent;
    this.rate = this.requestsPerSecond;
  }

  /** Waits for a slot; rejects with the signal's reason if it aborts while waiting. */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.pump();
    });
  }

  /** Runs `fn` in a slot. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Reports a 429: halves the concurrency (at least 1) and the rate cap. */
  onRateLimited(): void {
    this.rateLimitedCount++;
    this.successesSinceChange = 0;
    this.concurrency = Math.max(1, Math.floor(this.concurrency / 2));
    if (this.rate !== undefined) this.rate = Math.max(this.rate / 2, 0.1);
  }

  /** Reports a successful answer: after enough of them, the limits grow one step back. */
  onSuccess(): void {
    if (this.concurrency >= this.maxConcurrent && this.rate === this.requestsPerSecond) return;
    this.successesSinceChange++;
    if (this.successesSinceChange < this.recoverAfter) return;
    this.successesSinceChange = 0;
    this.concurrency = Math.min(this.maxConcurrent, this.concurrency + 1);
    if (this.rate !== undefined && this.requestsPerSecond !== undefined) {
      this.rate = Math.min(this.requestsPerSecond, this.rate * 1.5);
    }
    this.pump();
  }

  stats(): LimiterStats {
    return {
      inFlight: this.inFlight,
      maxInFlightSeen: this.maxInFlightSeen,
      queued: this.queue.length,
      rateLimited: this.rateLimitedCount,
      started: this.startedCount,
      effectiveConcurrency: this.concurrency,
      effectiveRequestsPerSecond: this.rate,
    };
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.concurrency) {
      if (this.rate !== undefined) {
        const now = Date.now();
        if (now < this.nextStartAt) {
          if (!this.timer) {
            this.timer = setTimeout(() => {
              this.timer = undefined;
              this.pump();
            }, this.nextStartAt - now);
          }
          return;
        }
        this.nextStartAt = Math.max(now, this.nextStartAt) + 1000 / this.rate;
      }
      const waiter = this.queue.shift();
      if (!waiter) return;
      if (waiter.signal && waiter.onAbort) waiter.signal.removeEventListener('abort', waiter.onAbort);
      this.inFlight++;
      this.startedCount++;
      this.maxInFlightSeen = Math.max(this.maxInFlightSeen, this.inFlight);
      let released = false;
      waiter.resolve(() => {
        if (released) return;
        released = true;
        this.inFlight--;
        this.pump();
      });
    }
  }
}

const limiters = new Map<string, Limiter>();

/** The identity under which a key's limiter is kept: a hash, so the key itself is never stored. */
export function limiterId(apiKey: string): string {
  return createHash('sha256').update(`ashpipe-limiter:${apiKey}`).digest('hex').slice(0, 32);
}

/**
 * The process-wide limiter for an API key, created with `options` on first use (later options are
 * ignored: one key, one limiter).
 */
export function limiterFor(apiKey: string, options?: LimiterOptions): Limiter {
  const id = limiterId(apiKey);
  let limiter = limiters.get(id);
  if (!limiter) {
    limiter = new Limiter(options);
    limiters.set(id, limiter);
  }
  return limiter;
}
