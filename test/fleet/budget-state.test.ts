import { describe, expect, it } from 'vitest';
import {
  applyRateLimited,
  type BudgetPolicy,
  type BudgetState,
  FRESH_BUDGET,
  reserveStart,
} from '../../src/fleet/budget-state.js';

const T0 = 1_000_000;
const capped = { requestsPerSecond: 10, adaptive: true };

/** Reserves `n` starts at time `now`, returning the waits. */
function reserveMany(state: BudgetState, now: number, n: number, policy: BudgetPolicy = capped) {
  const waits: number[] = [];
  let s = state;
  for (let i = 0; i < n; i++) {
    const r = reserveStart(s, now, policy);
    waits.push(r.waitMs);
    s = r.state;
  }
  return { state: s, waits };
}

describe('the fleet budget of one key (pure transitions)', () => {
  it('gives starts one interval of the capped rate apart, whoever asks', () => {
    const { waits, state } = reserveMany(FRESH_BUDGET, T0, 4);
    expect(waits).toEqual([0, 100, 200, 300]);
    expect(state.sequence).toBe(4);
  });

  it('without a cap or a learned rate, starts are not paced', () => {
    const { waits } = reserveMany(FRESH_BUDGET, T0, 3, { requestsPerSecond: undefined, adaptive: true });
    expect(waits).toEqual([0, 0, 0]);
  });

  it('a Retry-After holds every later start until it has passed', () => {
    const paused = applyRateLimited(
      FRESH_BUDGET,
      T0,
      { retryAfterMs: 2_000, sequence: undefined, kind: 'rate' },
      capped,
    );
    expect(paused.pausedUntil).toBe(T0 + 2_000);
    expect(reserveStart(paused, T0 + 500, capped).waitMs).toBe(1_500);
    // A shorter pause reported later does not shorten it.
    const again = applyRateLimited(
      paused,
      T0 + 100,
      { retryAfterMs: 100, sequence: undefined, kind: 'rate' },
      capped,
    );
    expect(again.pausedUntil).toBe(T0 + 2_000);
  });

  it('the first 429 halves the observed rate; 429s of starts before the cut do not cut again', () => {
    const uncapped = { requestsPerSecond: undefined, adaptive: true };
    // 20 starts in the first second: an observed 20 per second.
    let s = FRESH_BUDGET;
    for (let i = 0; i < 20; i++) s = reserveStart(s, T0 + i * 50, uncapped).state;
    const cut = applyRateLimited(
      s,
      T0 + 1_000,
      { retryAfterMs: 1_000, sequence: 18, kind: 'rate' },
      uncapped,
    );
    expect(cut.learnedRps).toBeCloseTo(10, 5);
    expect(cut.cutAtSequence).toBe(20);
    expect(cut.ceilingRps).toBeNull();
    const same = applyRateLimited(
      cut,
      T0 + 1_010,
      { retryAfterMs: 1_000, sequence: 19, kind: 'rate' },
      uncapped,
    );
    expect(same.learnedRps).toBe(cut.learnedRps);
    // The next congestion event (a start after the cut) cuts to 85 % of the rate that hit the limit.
    const later = reserveStart(cut, T0 + 2_100, uncapped).state;
    const second = applyRateLimited(
      later,
      T0 + 2_150,
      { retryAfterMs: 0, sequence: 21, kind: 'rate' },
      uncapped,
    );
    expect(second.ceilingRps).toBeCloseTo(10, 5);
    expect(second.learnedRps).toBeCloseTo(8.5, 5);
  });

  it('a 429 after fewer than four starts teaches nothing (someone else spent the budget)', () => {
    const s = reserveMany(FRESH_BUDGET, T0, 2, { requestsPerSecond: undefined, adaptive: true }).state;
    const after = applyRateLimited(
      s,
      T0 + 10,
      { retryAfterMs: 1_000, sequence: 2, kind: 'rate' },
      {
        requestsPerSecond: undefined,
        adaptive: true,
      },
    );
    expect(after.learnedRps).toBeNull();
    expect(after.pausedUntil).toBe(T0 + 1_010);
  });

  it('concurrent_limit_exceeded pauses the key but leaves the rate to each process', () => {
    const s = reserveMany(FRESH_BUDGET, T0, 10).state;
    const after = applyRateLimited(s, T0, { retryAfterMs: 500, sequence: 10, kind: 'concurrency' }, capped);
    expect(after.learnedRps).toBeNull();
    expect(after.pausedUntil).toBe(T0 + 500);
  });

  it('the learned rate climbs back to the ceiling in RECOVERY_SECONDS of rate-bound running, not while idle', () => {
    const uncapped = { requestsPerSecond: undefined, adaptive: true };
    const cut: BudgetState = {
      ...FRESH_BUDGET,
      learnedRps: 8.5,
      ceilingRps: 10,
      lastGrowthAt: T0,
      sequence: 5,
    };
    // Idle for a minute: no start waits for its slot, so no growth.
    const idle = reserveStart(cut, T0 + 60_000, uncapped).state;
    expect(idle.learnedRps).toBe(8.5);
    // Rate-bound: every start waits; 10 s of it bring the rate back to the ceiling (CUBIC's flat part).
    let s = idle;
    for (let t = 60_100; t <= 70_000; t += 100) s = reserveStart(s, T0 + t, uncapped).state;
    expect(s.sinceCut).toBeCloseTo(10, 1);
    expect(s.learnedRps).toBeCloseTo(10, 1);
  });

  it('never grows past the configured cap', () => {
    const s: BudgetState = {
      ...FRESH_BUDGET,
      learnedRps: 9,
      ceilingRps: 9.5,
      lastGrowthAt: T0,
      nextStartAt: T0 + 1e6,
    };
    let state = s;
    for (let t = 100; t < 60_000; t += 500) state = reserveStart(state, T0 + t, capped).state;
    expect(state.learnedRps).toBeLessThanOrEqual(10);
  });
});
