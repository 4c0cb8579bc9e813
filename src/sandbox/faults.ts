import { Rng } from './prng.js';

/** One endpoint forced to fail. */
interface EndpointFailure {
  /**
   * HTTP status to answer with: 5xx for server errors, 429 for rate limiting, 200 for an Ashby
   * `success:false` error.
   * @default 500
   */
  status?: number;
  /**
   * Ashby error code for a 200/4xx failure.
   * @default 'internal_error'
   * @example 'invalid_input'
   */
  code?: string;
  /**
   * How many requests fail before the endpoint recovers; unlimited when absent.
   * @example 2
   */
  times?: number;
  /**
   * The error message repeats the request's credentials — the key and its `Authorization` header — as a
   * verbose upstream or a misconfigured proxy might, so that tests can prove every output path masks them.
   * @default false
   */
  echoKey?: boolean;
}

/** Faults the sandbox injects; every field is off by default. */
export interface FaultConfig {
  /**
   * Delay before every answer, in milliseconds.
   * @default 0
   */
  latencyMs: number;
  /**
   * Extra delay, in milliseconds, before every answer of the named endpoints, on top of `latencyMs`: holds one
   * reader inside a stream while others go at full speed.
   * @default {}
   * @example { 'candidate.list': 2000 }
   */
  slowEndpoints: Record<string, number>;
  /**
   * Token bucket per key: `rps` tokens per second, up to `burst`; an empty bucket answers 429 with a
   * `Retry-After` header. `scope: 'integration-partner'` adds `X-RateLimit-Scope`.
   * @default null
   * @example { rps: 5, burst: 10 }
   */
  rateLimit: { rps: number; burst: number; scope?: 'integration-partner' } | null;
  /**
   * Share of requests answered with a 5xx (some with an HTML body).
   * @default 0
   */
  errorRate: number;
  /**
   * Share of successful answers whose JSON body is cut in the middle.
   * @default 0
   */
  truncateRate: number;
  /**
   * Share of requests whose socket is destroyed without an answer.
   * @default 0
   */
  resetRate: number;
  /**
   * Cursors older than this many pages of their walk answer `next_cursor_expired`.
   * @default null
   */
  expireCursorAfterPages: number | null;
  /**
   * The next request that carries a cursor answers `next_cursor_expired` (then the flag clears).
   * @default false
   */
  expireCursorOnce: boolean;
  /**
   * The next request that carries a syncToken answers `sync_token_expired` (then the flag clears).
   * @default false
   */
  expireSyncTokenOnce: boolean;
  /**
   * Incremental walks (with a syncToken) longer than this many pages answer `incremental_sync_too_large`.
   * @default null
   */
  incrementalTooLargeAfterPages: number | null;
  /**
   * Seed of the random faults (error, truncate and reset rates), so that a run is reproducible.
   * @default 1
   */
  seed: number;
  /**
   * Endpoints that fail on purpose.
   * @example { 'candidate.create': { status: 500, times: 1 } }
   */
  failEndpoints: Record<string, EndpointFailure>;
}

const NO_FAULTS: FaultConfig = {
  latencyMs: 0,
  slowEndpoints: {},
  rateLimit: null,
  errorRate: 0,
  truncateRate: 0,
  resetRate: 0,
  expireCursorAfterPages: null,
  expireCursorOnce: false,
  expireSyncTokenOnce: false,
  incrementalTooLargeAfterPages: null,
  seed: 1,
  failEndpoints: {},
};

function num(value: unknown, name: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new Error(`fault "${name}" must be a number >= ${min}`);
  }
  return value;
}

/** Validates a partial fault configuration from an untrusted source (HTTP control endpoint, flags). */
export function parseFaults(input: unknown): Partial<FaultConfig> {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new Error('faults must be an object');
  const src = input as Record<string, unknown>;
  const out: Partial<FaultConfig> = {};
  for (const [key, value] of Object.entries(src)) {
    switch (key) {
      case 'latencyMs':
        out.latencyMs = num(value, key);
        break;
      case 'errorRate':
      case 'truncateRate':
      case 'resetRate': {
        const rate = num(value, key);
        if (rate > 1) throw new Error(`fault "${key}" must be between 0 and 1`);
        out[key] = rate;
        break;
      }
      case 'expireCursorAfterPages':
      case 'incrementalTooLargeAfterPages':
        out[key] = value === null ? null : num(value, key, 1);
        break;
      case 'expireCursorOnce':
      case 'expireSyncTokenOnce':
        if (typeof value !== 'boolean') throw new Error(`fault "${key}" must be a boolean`);
        out[key] = value;
        break;
      case 'seed':
        out.seed = num(value, key);
        break;
      case 'rateLimit': {
        if (value === null) {
          out.rateLimit = null;
          break;
        }
        if (typeof value !== 'object') throw new Error('fault "rateLimit" must be {rps, burst} or null');
        const r = value as Record<string, unknown>;
        const rps = num(r.rps, 'rateLimit.rps');
        const limit: NonNullable<FaultConfig['rateLimit']> = {
          rps,
          burst: r.burst === undefined ? Math.max(1, rps) : num(r.burst, 'rateLimit.burst', 1),
        };
        if (r.scope === 'integration-partner') limit.scope = 'integration-partner';
        out.rateLimit = limit;
        break;
      }
      case 'slowEndpoints': {
        if (typeof value !== 'object' || value === null || Array.isArray(value))
          throw new Error('fault "slowEndpoints" must be an object of endpoint: milliseconds');
        const map: Record<string, number> = {};
        for (const [endpoint, ms] of Object.entries(value as Record<string, unknown>))
          map[endpoint] = num(ms, `slowEndpoints.${endpoint}`);
        out.slowEndpoints = map;
        break;
      }
      case 'failEndpoints': {
        if (typeof value !== 'object' || value === null)
          throw new Error('fault "failEndpoints" must be an object');
        const map: Record<string, EndpointFailure> = {};
        for (const [endpoint, spec] of Object.entries(value as Record<string, unknown>)) {
          const s = (typeof spec === 'object' && spec !== null ? spec : {}) as Record<string, unknown>;
          const f: EndpointFailure = {};
          if (s.status !== undefined) f.status = num(s.status, 'status', 200);
          if (typeof s.code === 'string') f.code = s.code;
          if (s.times !== undefined) f.times = num(s.times, 'times');
          if (s.echoKey !== undefined) {
            if (typeof s.echoKey !== 'boolean') throw new Error('fault "echoKey" must be a boolean');
            f.echoKey = s.echoKey;
          }
          map[endpoint] = f;
        }
        out.failEndpoints = map;
        break;
      }
      default:
        throw new Error(`unknown fault "${key}"`);
    }
  }
  return out;
}

/** The live fault state of one sandbox: configuration, token buckets and the fault RNG. */
export class Faults {
  config: FaultConfig;
  private rng: Rng;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly failuresLeft = new Map<string, number>();

  constructor(initial: Partial<FaultConfig> = {}) {
    this.config = { ...NO_FAULTS, ...initial };
    this.rng = new Rng(this.config.seed);
  }

  set(faults: Partial<FaultConfig>): void {
    this.config = { ...this.config, ...faults };
    if (faults.seed !== undefined) this.rng = new Rng(faults.seed);
    if (faults.rateLimit !== undefined) this.buckets.clear();
    if (faults.failEndpoints !== undefined) this.failuresLeft.clear();
  }

  reset(): void {
    this.config = { ...NO_FAULTS };
    this.rng = new Rng(NO_FAULTS.seed);
    this.buckets.clear();
    this.failuresLeft.clear();
  }

  /** Draws against a rate; draws nothing when the rate is 0 so that unrelated faults keep their sequence. */
  roll(rate: number): boolean {
    return rate > 0 && this.rng.next() < rate;
  }

  /** Takes a token for `key`; returns the wait in ms when the bucket is empty. */
  take(key: string, now: number): number | undefined {
    const limit = this.config.rateLimit;
    if (!limit || limit.rps <= 0) return undefined;
    const bucket = this.buckets.get(key) ?? { tokens: limit.burst, at: now };
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * limit.rps);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return Math.ceil(((1 - bucket.tokens) / limit.rps) * 1000);
  }

  /** The forced failure for an endpoint, counting down `times`. */
  failureFor(endpoint: string): EndpointFailure | undefined {
    const f = this.config.failEndpoints[endpoint];
    if (!f) return undefined;
    if (f.times !== undefined) {
      const left = this.failuresLeft.get(endpoint) ?? f.times;
      if (left <= 0) return undefined;
      this.failuresLeft.set(endpoint, left - 1);
    }
    return f;
  }
}
