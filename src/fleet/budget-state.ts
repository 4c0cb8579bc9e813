/**
 * The fleet-wide rate budget of one API key as a value and two pure transitions on it: a request start
 * reserved, a 429 reported. `PostgresRateBudget` applies them to a row under a row lock; keeping them
 * pure keeps the arithmetic testable without a database and identical to the in-process limiter's
 * (`src/ashby/limiter.ts`: pacing, shared pause, AIMD with CUBIC's growth curve).
 *
 * Times are milliseconds on one clock (the database's), so that processes on machines whose clocks
 * disagree still share one schedule: a reservation answers a wait, not a wall-clock time.
 */
import {
  CUBIC_SCALE,
  DECREASE_FACTOR,
  FIRST_DECREASE_FACTOR,
  MIN_REQUESTS_PER_SECOND,
  MIN_STARTS_TO_LEARN,
  OBSERVATION_WINDOW_MS,
  RECOVERY_SECONDS,
  type SharedRateLimitSignal,
  SLOW_START_GROWTH,
} from '../ashby/limiter.js';

/** One key's budget as stored. */
export interface BudgetState {
  /** The earliest time the next request start may be given. */
  nextStartAt: number;
  /** Until when every request of the key waits (the latest `Retry-After`). */
  pausedUntil: number;
  /** The rate learned from 429s; null before the first one. */
  learnedRps: number | null;
  /** The rate that last ran into the limit; null while the limit is unknown (slow start). */
  ceilingRps: number | null;
  /** Rate-bound seconds since the last cut (idle time does not count). */
  sinceCut: number;
  lastGrowthAt: number;
  /** `sequence` at the last cut: 429s of earlier starts belong to the same congestion event. */
  cutAtSequence: number;
  /** Request starts given so far. */
  sequence: number;
  /** Start of the current observation window and the starts counted in it and in the one before. */
  windowStartedAt: number;
  windowStarts: number;
  previousWindowStarts: number;
}

/** The budget of a key that has never been used. */
export const FRESH_BUDGET: BudgetState = {
  nextStartAt: 0,
  pausedUntil: 0,
  learnedRps: null,
  ceilingRps: null,
  sinceCut: 0,
  lastGrowthAt: 0,
  cutAtSequence: 0,
  sequence: 0,
  windowStartedAt: 0,
  windowStarts: 0,
  previousWindowStarts: 0,
};

/** How the calling process wants the key paced. */
export interface BudgetPolicy {
  /** The configured cap (request starts per second); the learned rate never exceeds it. */
  requestsPerSecond: number | undefined;
  /** Learn a rate from 429s. */
  adaptive: boolean;
}

/** The lower of the configured and the learned rate; undefined when neither exists. */
export function pacedRate(state: BudgetState, policy: BudgetPolicy): number | undefined {
  const learned = policy.adaptive ? (state.learnedRps ?? undefined) : undefined;
  if (learned === undefined) return policy.requestsPerSecond;
  if (policy.requestsPerSecond === undefined) return learned;
  return Math.min(learned, policy.requestsPerSecond);
}

function rollWindow(state: BudgetState, now: number): BudgetState {
  const age = now - state.windowStartedAt;
  if (age < OBSERVATION_WINDOW_MS) return state;
  return {
    ...state,
    windowStartedAt: now,
    previousWindowStarts: age < 2 * OBSERVATION_WINDOW_MS ? state.windowStarts : 0,
    windowStarts: 0,
  };
}

/** Request starts per second of the whole fleet, from the current and the previous window (sliding-window estimate). */
export function observedRate(state: BudgetState, now: number): { rate: number; starts: number } {
  const s = rollWindow(state, now);
  const elapsed = Math.max(0, now - s.windowStartedAt);
  if (s.previousWindowStarts === 0) {
    return { rate: s.windowStarts / Math.max(0.25, elapsed / 1000), starts: s.windowStarts };
  }
  const weighted = s.previousWindowStarts * ((OBSERVATION_WINDOW_MS - elapsed) / OBSERVATION_WINDOW_MS);
  return {
    rate: (weighted + s.windowStarts) / (OBSERVATION_WINDOW_MS / 1000),
    starts: Math.round(weighted + s.windowStarts),
  };
}

/**
 * Gives the next request start of the key: the wait until its slot (after the pause, one interval of the
 * paced rate after the previous start). While the key is rate-bound (a start has to wait for its slot),
 * the learned rate climbs as in the in-process limiter.
 */
export function reserveStart(
  before: BudgetState,
  now: number,
  policy: BudgetPolicy,
): { state: BudgetState; waitMs: number; rate: number | undefined } {
  let state = rollWindow(before, now);
  if (policy.adaptive && state.learnedRps !== null) {
    const rateBound = state.nextStartAt > now;
    const from = Math.max(state.lastGrowthAt, state.pausedUntil);
    if (rateBound && now > from) {
      const seconds = Math.min(1, (now - from) / 1000);
      const sinceCut = state.sinceCut + seconds;
      let next =
        state.ceilingRps === null
          ? state.learnedRps * (1 + SLOW_START_GROWTH * seconds)
          : state.ceilingRps * (1 + CUBIC_SCALE * (sinceCut - RECOVERY_SECONDS) ** 3);
      if (policy.requestsPerSecond !== undefined) next = Math.min(next, policy.requestsPerSecond);
      state = { ...state, sinceCut, learnedRps: Math.max(MIN_REQUESTS_PER_SECOND, next) };
    }
    state = { ...state, lastGrowthAt: Math.max(state.lastGrowthAt, now) };
  }
  const rate = pacedRate(state, policy);
  const startAt = Math.max(now, state.pausedUntil, rate === undefined ? 0 : state.nextStartAt);
  return {
    state: {
      ...state,
      nextStartAt: rate === undefined ? startAt : startAt + 1000 / rate,
      sequence: state.sequence + 1,
      windowStarts: state.windowStarts + 1,
    },
    waitMs: startAt - now,
    rate,
  };
}

/**
 * Takes a 429 into the key's budget: its `Retry-After` pauses every process; the first 429 of a
 * congestion event (a start after the last cut) cuts the learned rate — deep while the limit is unknown,
 * to {@link DECREASE_FACTOR} of the rate that ran into it afterwards.
 */
export function applyRateLimited(
  before: BudgetState,
  now: number,
  signal: SharedRateLimitSignal,
  policy: BudgetPolicy,
): BudgetState {
  let state = before;
  if (signal.retryAfterMs !== undefined && signal.retryAfterMs > 0) {
    state = { ...state, pausedUntil: Math.max(state.pausedUntil, now + signal.retryAfterMs) };
  }
  if (signal.kind === 'concurrency') return state;
  if (signal.sequence !== undefined && signal.sequence <= state.cutAtSequence) return state;
  state = { ...state, cutAtSequence: state.sequence };
  if (!policy.adaptive) return state;
  const observed = observedRate(state, now);
  // A 429 after only a few starts says that someone else spent the budget, not how fast the key may go.
  if (state.learnedRps === null && observed.starts < MIN_STARTS_TO_LEARN) return state;
  const pacing = pacedRate(state, policy) ?? Number.POSITIVE_INFINITY;
  const hit = Math.min(pacing, observed.rate);
  const first = state.learnedRps === null;
  return {
    ...state,
    ceilingRps: first ? null : hit,
    learnedRps: Math.max(MIN_REQUESTS_PER_SECOND, hit * (first ? FIRST_DECREASE_FACTOR : DECREASE_FACTOR)),
    sinceCut: 0,
    lastGrowthAt: Math.max(now, state.pausedUntil),
  };
}
