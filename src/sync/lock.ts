/** Taking a stream's lock before writing it: at once, or waiting up to `--wait` for the run that holds it. */
import type { LockHolder, StreamLock } from '../sinks/index.js';
import type { RunContext } from './context.js';
import { formatDuration } from './duration.js';

/** How often a waiting run asks again for a lock. */
const RETRY_MS = 500;

/** The lock, or who held it when the run gave up. */
export type LockOutcome = { lock: StreamLock } | { refused: string };

/** `12:01:07 UTC` today, `2026-03-01 12:01:07 UTC` another day. */
function sinceText(since: string, now: Date): string {
  const at = new Date(since);
  if (Number.isNaN(at.getTime())) return since;
  const iso = at.toISOString();
  const time = `${iso.slice(11, 19)} UTC`;
  return iso.slice(0, 10) === now.toISOString().slice(0, 10) ? time : `${iso.slice(0, 10)} ${time}`;
}

/**
 * Who holds a stream, for people.
 * @example describeHolder('candidates', holder, now) // 'candidates is being synced by pid 4242 on host h since 12:01:07 UTC'
 */
export function describeHolder(stream: string, holder: LockHolder | undefined, now: Date): string {
  if (!holder) return `${stream} is being synced by another run`;
  const by = holder.label ? ` (${holder.label})` : '';
  return `${stream} is being synced by pid ${holder.pid} on host ${holder.host}${by} since ${sinceText(holder.since, now)}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Takes the lock of `stream` in the run's target. When another run holds it, waits up to the run's
 * `lockWaitMs` (asking again every half second) and otherwise returns why the stream is skipped, naming
 * the holder.
 */
export async function takeLock(ctx: RunContext, stream: string): Promise<LockOutcome> {
  const waitMs = ctx.settings.lockWaitMs;
  const deadline = Date.now() + waitMs;
  let announced = false;
  for (;;) {
    const attempt = await ctx.sink.lock(stream, ctx.settings.lockLabel);
    if (attempt.acquired) return { lock: attempt.lock };
    const who = describeHolder(stream, attempt.holder, ctx.now());
    const left = deadline - Date.now();
    if (left <= 0 || ctx.signal.aborted) {
      return {
        refused: waitMs > 0 ? `${who}; waited ${formatDuration(waitMs)}, skipped` : `${who}; skipped`,
      };
    }
    if (!announced) {
      announced = true;
      ctx.emit({ type: 'warning', stream, message: `${who}; waiting up to ${formatDuration(waitMs)}` });
    }
    await sleep(Math.min(RETRY_MS, left), ctx.signal);
  }
}
