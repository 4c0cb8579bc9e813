import { describe, expect, it } from 'vitest';
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

  it('halves on 429 down to one, and grows back one step per run of successes', () => {
    const limiter = new Limiter({ maxConcurrent: 4, requestsPerSecond: 8, recoverAfterSuccesses: 3 });
    limiter.onRateLimited();
    expect(limiter.stats()).toMatchObject({
      effectiveConcurrency: 2,
      effectiveRequestsPerSecond: 4,
      rateLimited: 1,
    });
    limiter.onRateLimited();
    limiter.onRateLimited();
    expect(limiter.stats().effectiveConcurrency).toBe(1);
    limiter.onSuccess();
    limiter.onSuccess();
    expect(limiter.stats().effectiveConcurrency).toBe(1);
    limiter.onSuccess();
    expect(limiter.stats().effectiveConcurrency).toBe(2);
    for (let i = 0; i < 30; i++) limiter.onSuccess();
    expect(limiter.stats()).toMatchObject({ effectiveConcurrency: 4, effectiveRequestsPerSecond: 8 });
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
