import { afterEach, describe, expect, it, vi } from 'vitest';
import { Limiter, limiterFor, limiterId } from '../../src/ashby/limiter.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('Limiter', () => {
  it('defaults to two requests in flight', () => {
    expect(new Limiter().stats().effectiveConcurrency).toBe(2);
  });

  it('holds further requests until a slot is released, first come first served', async () => {
    const limiter = new Limiter({ maxConcurrent: 2 });
    const order: number[] = [];
    const releases = await Promise.all([limiter.acquire(), limiter.acquire()]);
    const third = limiter.acquire().then((release) => {
      order.push(3);
      return release;
    });
    const fourth = limiter.acquire().then((release) => {
      order.push(4);
      return release;
    });
    await tick();
    expect(order).toEqual([]);
    expect(limiter.stats()).toMatchObject({ inFlight: 2, queued: 2 });
    releases[0]?.();
    (await third)();
    releases[1]?.();
    (await fourth)();
    expect(order).toEqual([3, 4]);
    expect(limiter.stats()).toMatchObject({ inFlight: 0, maxInFlightSeen: 2, started: 4 });
  });

  it('a release called twice frees one slot only', async () => {
    const limiter = new Limiter({ maxConcurrent: 1 });
    const release = await limiter.acquire();
    release();
    release();
    expect(limiter.stats().inFlight).toBe(0);
    await limiter.acquire();
    expect(limiter.stats().inFlight).toBe(1);
  });

  it('never exceeds its concurrency under many parallel runs', async () => {
    const limiter = new Limiter({ maxConcurrent: 3 });
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        limiter.run(async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((r) => setTimeout(r, i % 3));
          active--;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(limiter.stats().maxInFlightSeen).toBe(3);
  });

  it('halves the concurrency on concurrent_limit_exceeded and grows back one step per run of successes', () => {
    const limiter = new Limiter({ maxConcurrent: 4, recoverAfterSuccesses: 3 });
    limiter.onRateLimited({ kind: 'concurrency' });
    expect(limiter.stats()).toMatchObject({ effectiveConcurrency: 2, rateLimited: 1, rateCuts: 1 });
    limiter.onRateLimited({ kind: 'concurrency' });
    limiter.onRateLimited({ kind: 'concurrency' });
    expect(limiter.stats().effectiveConcurrency).toBe(1);
    limiter.onSuccess();
    limiter.onSuccess();
    expect(limiter.stats().effectiveConcurrency).toBe(1);
    limiter.onSuccess();
    expect(limiter.stats().effectiveConcurrency).toBe(2);
    for (let i = 0; i < 30; i++) limiter.onSuccess();
    expect(limiter.stats().effectiveConcurrency).toBe(4);
  });

  it('holds request starts back to respect a rate cap even when slots are free', async () => {
    const limiter = new Limiter({ maxConcurrent: 10, requestsPerSecond: 4 });
    const first = await limiter.acquire();
    const second = limiter.acquire();
    await tick();
    expect(limiter.stats()).toMatchObject({ started: 1, queued: 1, inFlight: 1 });
    (await second)();
    first();
    expect(limiter.stats()).toMatchObject({ started: 2, queued: 0, inFlight: 0 });
  });

  it('a waiting request whose signal aborts leaves the queue', async () => {
    const limiter = new Limiter({ maxConcurrent: 1 });
    const release = await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    controller.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    expect(limiter.stats().queued).toBe(0);
    release();
    expect(limiter.stats().inFlight).toBe(0);
  });
});

describe('Limiter on 429s', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a Retry-After holds every request of the key, not only the throttled one, until it has passed', async () => {
    vi.useFakeTimers();
    const limiter = new Limiter({ maxConcurrent: 4 });
    const throttled = await limiter.acquire();
    limiter.onRateLimited({ retryAfterMs: 1_000, ticket: throttled.ticket });
    throttled();
    let started = 0;
    const others = [1, 2, 3].map(() =>
      limiter.acquire().then((release) => {
        started++;
        return release;
      }),
    );
    await vi.advanceTimersByTimeAsync(999);
    expect(started).toBe(0);
    expect(limiter.stats()).toMatchObject({ queued: 3, pauses: 1 });
    expect(limiter.stats().pausedForMs).toBeGreaterThan(0);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(started).toBeGreaterThan(0);
    // Afterwards the requests are paced at the learned rate, not released in one burst.
    await vi.advanceTimersByTimeAsync(60_000);
    for (const release of await Promise.all(others)) release();
    expect(started).toBe(3);
    expect(limiter.stats().pausedForMs).toBe(0);
  });

  it('caps a shared pause at maxPauseMs', async () => {
    vi.useFakeTimers();
    const limiter = new Limiter({ maxPauseMs: 5_000, adaptive: false });
    limiter.onRateLimited({ retryAfterMs: 3_600_000 });
    let started = false;
    const waiting = limiter.acquire().then((release) => {
      started = true;
      return release;
    });
    await vi.advanceTimersByTimeAsync(4_999);
    expect(started).toBe(false);
    await vi.advanceTimersByTimeAsync(2);
    (await waiting)();
    expect(started).toBe(true);
  });

  it('learns a request rate below the one that ran into the limit, once per burst of 429s', async () => {
    vi.useFakeTimers();
    const limiter = new Limiter({ maxConcurrent: 4 });
    // 40 starts in 2 s: 20 per second.
    for (let i = 0; i < 40; i++) {
      (await limiter.acquire())();
      await vi.advanceTimersByTimeAsync(50);
    }
    const inFlight = await Promise.all([limiter.acquire(), limiter.acquire(), limiter.acquire()]);
    for (const release of inFlight) limiter.onRateLimited({ ticket: release.ticket });
    for (const release of inFlight) release();
    const stats = limiter.stats();
    expect(stats.rateLimited).toBe(3);
    expect(stats.rateCuts).toBe(1);
    expect(stats.learnedRequestsPerSecond).toBeDefined();
    expect(stats.learnedRequestsPerSecond ?? 99).toBeLessThan(20);
    expect(stats.learnedRequestsPerSecond ?? 0).toBeGreaterThan(1);
    expect(stats.effectiveRequestsPerSecond).toBe(stats.learnedRequestsPerSecond);
  });

  it('grows the learned rate back while requests wait, and never past a configured cap', async () => {
    vi.useFakeTimers();
    const limiter = new Limiter({ maxConcurrent: 4, requestsPerSecond: 8 });
    for (let i = 0; i < 16; i++) {
      (await limiter.acquire())();
      await vi.advanceTimersByTimeAsync(125);
    }
    limiter.onRateLimited();
    const cut = limiter.stats().learnedRequestsPerSecond ?? 0;
    expect(cut).toBeLessThan(8);
    // A steady backlog: each answer comes back 50 ms after its start.
    let done = 0;
    const worker = async () => {
      while (done < 400) {
        const release = await limiter.acquire();
        await new Promise((r) => setTimeout(r, 50));
        limiter.onSuccess();
        release();
        done++;
      }
    };
    const workers = Promise.all([worker(), worker(), worker(), worker(), worker()]);
    await vi.advanceTimersByTimeAsync(120_000);
    await workers;
    const grown = limiter.stats().learnedRequestsPerSecond ?? 0;
    expect(grown).toBeGreaterThan(cut);
    expect(grown).toBeLessThanOrEqual(8);
  });

  it('does not learn a rate when adaptive is off', () => {
    const limiter = new Limiter({ adaptive: false });
    limiter.onRateLimited({ retryAfterMs: 1 });
    expect(limiter.stats()).toMatchObject({ rateLimited: 1, effectiveRequestsPerSecond: undefined });
  });
});

describe('limiterFor', () => {
  it('returns one limiter per key, shared by every caller in the process', () => {
    const a = limiterFor('limiter-key-aaaaaa');
    expect(limiterFor('limiter-key-aaaaaa')).toBe(a);
    expect(limiterFor('limiter-key-bbbbbb')).not.toBe(a);
  });

  it('keys limiters by a hash that does not contain the key', () => {
    const id = limiterId('limiter-key-aaaaaa');
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(id).not.toContain('limiter-key');
  });
});
