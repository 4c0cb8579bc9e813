/**
 * The request limiter shared by everything that uses one API key in this process: a cap on concurrent
 * requests, an optional cap on request starts per second, a shared pause when Ashby asks to wait, and a
 * request rate learned from 429s. Ashby publishes no general rate limit; its limits apply per
 * organisation and per key (see the notes on rate limits), and peers saw 429s at a concurrency of 3–4.
 *
 * Why the pause is shared: a 429 means the key's budget is spent, not that one request was unlucky.
 * If only the throttled request waited, every other request of the key would run into the same wall and
 * collect its own 429. So a `Retry-After` holds every request of the key until the time has passed.
 *
 * Why a learned rate: without one, a client that is faster than the limit drains the server's budget,
 * pauses, drains it again, and pays a 429 each time. After the first 429 the limiter paces request starts
 * at a rate it adjusts like TCP congestion control (AIMD, with CUBIC's growth curve): cut to
 * {@link DECREASE_FACTOR} of the rate that ran into the limit, climb back quickly to near that rate, stay
 * there for a while, then probe above it. In steady state 429s become rare and the rate stays close to
 * the limit.
 */
import { createHash } from 'node:crypto';

/** Default concurrency: integrations running 3–4 parallel requests per key saw 429s; 2 did not. */
export const DEFAULT_MAX_CONCURRENT = 2;
/** The learned rate after a 429, as a share of the rate that ran into the limit. */
export const DECREASE_FACTOR = 0.85;
/** The first cut, while the limit is still unknown: a share of the rate observed when the first 429 came. */
export const FIRST_DECREASE_FACTOR = 0.5;
/** Growth per second of the learned rate while the limit is still unknown (after the first cut). */
const SLOW_START_GROWTH = 0.5;
/** The learned rate never drops below this (request starts per second). */
export const MIN_REQUESTS_PER_SECOND = 0.2;
/** Starts needed in the observation window before a first 429 teaches a rate. */
const MIN_STARTS_TO_LEARN = 4;
/** Start rates are measured over (at most) this window when a 429 arrives. */
const OBSERVATION_WINDOW_MS = 2_000;
/**
 * Seconds of rate-bound running after a cut until the learned rate is back at the rate that ran into the
 * limit. The climb is cubic (as in TCP CUBIC): quick at first, flat around that rate, then faster again
 * in case the limit has moved up. The flat part is what makes 429s rare: at 10 requests per second with
 * a burst of 10, the next 429 comes some 20 s (about 200 requests) after a cut.
 */
export const RECOVERY_SECONDS = 10;
const CUBIC_SCALE = (1 - DECREASE_FACTOR) / RECOVERY_SECONDS ** 3;

/** How a limiter paces requests. */
export interface LimiterOptions {
  /**
   * Most requests in flight at once.
   * @default 2
   * @example 1
   */
  maxConcurrent?: number;
  /**
   * Most request starts per second: a hard cap that the learned rate never exceeds. No cap when absent
   * (the limiter still learns one after a 429 when `adaptive` is on).
   * @default undefined
   * @example 5
   */
  requestsPerSecond?: number;
  /**
   * Successes needed after a concurrency cut (`concurrent_limit_exceeded`), or after the previous
   * recovery step, before the concurrency grows one step back towards `maxConcurrent`.
   * @default 20
   * @example 50
   */
  recoverAfterSuccesses?: number;
  /**
   * Learn a request rate from 429s (AIMD) so that a key running at its limit sees almost no 429s.
   * When off, 429s only pause the key for their `Retry-After`.
   * @default true
   * @example false
   */
  adaptive?: boolean;
  /**
   * Longest shared pause a single `Retry-After` can impose on the key.
   * @default 120_000 (the retry policy's `maxRetryAfterMs` default)
   * @example 60_000
   */
  maxPauseMs?: number;
}

/** What the client tells the limiter about a 429. */
export interface RateLimitSignal {
  /** How long Ashby asked to wait (`Retry-After`); every request of the key waits that long. */
  retryAfterMs?: number | undefined;
  /**
   * The {@link Release.ticket} of the throttled request. 429s of requests started before the limiter's
   * last cut count as the same congestion event, so one burst of 429s cuts the rate once.
   */
  ticket?: number | undefined;
  /**
   * `concurrency` when Ashby limits parallel operations (`concurrent_limit_exceeded`): the concurrency
   * is halved instead of the rate.
   * @default 'rate'
   */
  kind?: 'rate' | 'concurrency';
}

/** Counters a limiter keeps for tests, progress displays and run statistics. */
export interface LimiterStats {
  inFlight: number;
  maxInFlightSeen: number;
  queued: number;
  /** 429 answers reported to the limiter. */
  rateLimited: number;
  /** Congestion events: 429s that cut the rate or concurrency (a burst of 429s counts once). */
  rateCuts: number;
  /** Shared pauses imposed by `Retry-After`. */
  pauses: number;
  /** Milliseconds until the current shared pause ends; 0 when not paused. */
  pausedForMs: number;
  /** Requests started through the limiter. */
  started: number;
  /** Current concurrency cap (lowered after `concurrent_limit_exceeded`). */
  effectiveConcurrency: number;
  /** The rate request starts are paced at: the lower of the configured and the learned one; undefined when neither exists. */
  effectiveRequestsPerSecond: number | undefined;
  /** The rate learned from 429s; undefined before the first one. */
  learnedRequestsPerSecond: number | undefined;
}

/** Releases a slot taken with {@link Limiter.acquire}; calling it twice is harmless. */
export type Release = (() => void) & {
  /** Sequence number of the request start, for {@link RateLimitSignal.ticket}. */
  readonly ticket: number;
};

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
  readonly adaptive: boolean;
  private readonly recoverAfter: number;
  private readonly maxPauseMs: number;
  private concurrency: number;
  private learnedRate: number | undefined;
  /** The rate that last ran into the limit. */
  private ceiling: number | undefined;
  /** Rate-bound seconds since the last cut (idle time does not count). */
  private sinceCut = 0;
  private lastGrowthAt = 0;
  /** `startedCount` at the last cut: tickets up to it were sent at the old pace. */
  private cutAtTicket = 0;
  private successesSinceChange = 0;
  private inFlight = 0;
  private maxInFlightSeen = 0;
  private rateLimitedCount = 0;
  private cuts = 0;
  private pauseCount = 0;
  private startedCount = 0;
  private nextStartAt = 0;
  private pausedUntil = 0;
  /** Ticket of the request whose `Retry-After` set the current pause. */
  private pauseOwner: number | undefined;
  private readonly recentStarts: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private readonly queue: Waiter[] = [];

  constructor(options: LimiterOptions = {}) {
    this.maxConcurrent = Math.max(1, Math.floor(options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT));
    this.requestsPerSecond =
      options.requestsPerSecond !== undefined && options.requestsPerSecond > 0
        ? options.requestsPerSecond
        : undefined;
    this.recoverAfter = Math.max(1, options.recoverAfterSuccesses ?? 20);
    this.adaptive = options.adaptive ?? true;
    this.maxPauseMs = Math.max(0, options.maxPauseMs ?? 120_000);
    this.concurrency = this.maxConcurrent;
  }

  /**
   * Waits for a slot; rejects with the signal's reason if it aborts while waiting.
   * @param options.resuming the ticket of the throttled request this one retries. The retry of the
   * request whose `Retry-After` paused the key ends that pause: it has waited as its retry policy
   * decided (which is the `Retry-After` itself unless a test replaces the sleep).
   */
  acquire(signal?: AbortSignal, options: { resuming?: number | undefined } = {}): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (options.resuming !== undefined && options.resuming === this.pauseOwner) {
      this.pauseOwner = undefined;
      this.pausedUntil = Math.min(this.pausedUntil, Date.now());
    }
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

  /**
   * Reports a 429. A `Retry-After` pauses every request of the key until it has passed; the first 429 of
   * a congestion event cuts the learned rate (or, for `kind: 'concurrency'`, halves the concurrency).
   */
  onRateLimited(signal: RateLimitSignal = {}): void {
    const now = Date.now();
    this.rateLimitedCount++;
    if (signal.retryAfterMs !== undefined && signal.retryAfterMs > 0) {
      const until = now + Math.min(signal.retryAfterMs, this.maxPauseMs);
      if (until > this.pausedUntil) {
        this.pausedUntil = until;
        this.pauseOwner = signal.ticket;
        this.pauseCount++;
      }
    }
    if (signal.ticket !== undefined && signal.ticket <= this.cutAtTicket) return;
    this.cutAtTicket = this.startedCount;
    this.cuts++;
    this.successesSinceChange = 0;
    if (signal.kind === 'concurrency') {
      this.concurrency = Math.max(1, Math.floor(this.concurrency / 2));
      return;
    }
    if (!this.adaptive) return;
    // A 429 after only a few requests says that others spent the budget, not how fast this key may go.
    this.forgetStartsBefore(now - OBSERVATION_WINDOW_MS);
    if (this.learnedRate === undefined && this.recentStarts.length < MIN_STARTS_TO_LEARN) return;
    const pacing = this.effectiveRate() ?? Number.POSITIVE_INFINITY;
    if (this.learnedRate === undefined) {
      // The limit is unknown (the start rate includes the server's burst allowance): cut deep, then
      // grow exponentially, as in TCP's slow start, until the next 429 shows where the limit is.
      this.ceiling = undefined;
      this.learnedRate = Math.max(
        MIN_REQUESTS_PER_SECOND,
        Math.min(pacing, this.observedRate(now)) * FIRST_DECREASE_FACTOR,
      );
    } else {
      this.ceiling = Math.min(pacing, this.observedRate(now));
      this.learnedRate = Math.max(MIN_REQUESTS_PER_SECOND, this.ceiling * DECREASE_FACTOR);
    }
    this.sinceCut = 0;
    this.lastGrowthAt = Math.max(now, this.pausedUntil);
  }

  /** Reports a successful answer: the concurrency recovers step by step, the learned rate climbs. */
  onSuccess(): void {
    if (this.concurrency < this.maxConcurrent) {
      this.successesSinceChange++;
      if (this.successesSinceChange >= this.recoverAfter) {
        this.successesSinceChange = 0;
        this.concurrency++;
      }
    }
    this.grow(Date.now());
    this.pump();
  }

  stats(): LimiterStats {
    return {
      inFlight: this.inFlight,
      maxInFlightSeen: this.maxInFlightSeen,
      queued: this.queue.length,
      rateLimited: this.rateLimitedCount,
      rateCuts: this.cuts,
      pauses: this.pauseCount,
      pausedForMs: Math.max(0, this.pausedUntil - Date.now()),
      started: this.startedCount,
      effectiveConcurrency: this.concurrency,
      effectiveRequestsPerSecond: this.effectiveRate(),
      learnedRequestsPerSecond: this.learnedRate,
    };
  }

  private effectiveRate(): number | undefined {
    if (this.learnedRate === undefined) return this.requestsPerSecond;
    if (this.requestsPerSecond === undefined) return this.learnedRate;
    return Math.min(this.learnedRate, this.requestsPerSecond);
  }

  /**
   * Request starts per second over the last observation window, or over the time since the oldest start
   * in it when that is shorter (a run that began a moment ago is not diluted by the time before it).
   */
  private observedRate(now: number): number {
    this.forgetStartsBefore(now - OBSERVATION_WINDOW_MS);
    const oldest = this.recentStarts[0];
    const count = this.recentStarts.length;
    if (oldest === undefined || count < 2) return 1000 / OBSERVATION_WINDOW_MS;
    return count / (Math.max(250, now - oldest) / 1000);
  }

  private forgetStartsBefore(time: number): void {
    let drop = 0;
    while (drop < this.recentStarts.length && (this.recentStarts[drop] ?? 0) < time) drop++;
    if (drop > 0) this.recentStarts.splice(0, drop);
  }

  /**
   * Raises the learned rate for the time passed since the last raise, but only while requests are
   * waiting: a rate that nobody uses proves nothing about the limit and must not grow.
   */
  private grow(now: number): void {
    if (this.learnedRate === undefined) return;
    if (this.queue.length === 0) {
      this.lastGrowthAt = Math.max(this.lastGrowthAt, now);
      return;
    }
    const from = Math.max(this.lastGrowthAt, this.pausedUntil);
    if (now <= from) return;
    const seconds = Math.min(1, (now - from) / 1000);
    this.sinceCut += seconds;
    this.lastGrowthAt = now;
    let next =
      this.ceiling === undefined
        ? this.learnedRate * (1 + SLOW_START_GROWTH * seconds)
        : this.ceiling * (1 + CUBIC_SCALE * (this.sinceCut - RECOVERY_SECONDS) ** 3);
    // The configured cap binds anyway; growing past it would only delay the reaction to the next 429.
    if (this.requestsPerSecond !== undefined) next = Math.min(next, this.requestsPerSecond);
    this.learnedRate = Math.max(MIN_REQUESTS_PER_SECOND, next);
  }

  private wakeAt(time: number): void {
    if (this.timer && this.timerAt <= time) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = time;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.pump();
      },
      Math.max(0, time - Date.now()),
    );
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.concurrency) {
      const now = Date.now();
      if (now < this.pausedUntil) {
        this.wakeAt(this.pausedUntil);
        return;
      }
      const rate = this.effectiveRate();
      if (rate !== undefined) {
        if (now < this.nextStartAt) {
          this.wakeAt(this.nextStartAt);
          return;
        }
        this.nextStartAt = Math.max(now, this.nextStartAt) + 1000 / rate;
      }
      const waiter = this.queue.shift();
      if (!waiter) return;
      if (waiter.signal && waiter.onAbort) waiter.signal.removeEventListener('abort', waiter.onAbort);
      this.inFlight++;
      this.startedCount++;
      this.recentStarts.push(now);
      if (this.recentStarts.length > 4096) this.forgetStartsBefore(now - OBSERVATION_WINDOW_MS);
      this.maxInFlightSeen = Math.max(this.maxInFlightSeen, this.inFlight);
      let released = false;
      const release = (() => {
        if (released) return;
        released = true;
        this.inFlight--;
        this.pump();
      }) as Release;
      Object.defineProperty(release, 'ticket', { value: this.startedCount, enumerable: true });
      waiter.resolve(release);
    }
  }
}

const limiters = new Map<string, Limiter>();

/** The identity under which a key's limiter is kept: a hash, so the key itself is never stored. */
export function limiterId(apiKey: string): string {
  return createHash('sha256').update(`ashpipe-limiter:${apiKey}`).digest('hex').slice(0, 32);
}

/**
 * The process-wide limiter with this {@link limiterId}, if a client has made it; never creates one (a
 * limiter made without the caller's options would pin the defaults). Metrics read it at scrape time.
 */
export function limiterById(id: string): Limiter | undefined {
  return limiters.get(id);
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
