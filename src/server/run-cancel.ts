/**
 * How a run a person cancelled is recorded, wherever it ran: in the server's process (the scheduler) or
 * on a fleet worker, and when a worker died before it noticed the cancel.
 */
import type { Run, RunCount, RunErrorInfo, RunStatus } from './model.js';

/**
 * A run a person stopped: `cancelled`; streams or operations cut short are marked `cancelled` (a note
 * like "2 pending" stays, the abort's own message and a running count's progress note go), and so do
 * the abort's errors; what finished before the cancel keeps its status.
 */
export function asCancelled(run: Run): [RunStatus, RunCount[], RunErrorInfo[]] {
  const cut = new Set<string>();
  const counts = run.counts.map((c): RunCount => {
    // A destination's count stays "succeeded" with records left pending when it is stopped.
    const leftPending = /\bpending\b/.test(c.message ?? '');
    if ((c.status === 'succeeded' && !leftPending) || c.status === 'skipped') return c;
    // A stream the abort stopped says `failed` with no message of its own (a real failure names its cause).
    if (c.status === 'failed' && c.message !== undefined && !isAbortMessage(c.message)) return c;
    cut.add(c.name);
    // A progress note of a count still going when its worker died ("waiting for another push…") is
    // stale once the run is over; a note of records left pending is not.
    const stale = c.status === 'running' && !leftPending;
    if (!isAbortMessage(c.message) && !stale) return { ...c, status: 'cancelled' };
    const { message: _note, ...rest } = c;
    return { ...rest, status: 'cancelled' };
  });
  const errors = run.errors.filter(
    (e) => !isAbortMessage(e.message) && !(e.scope !== undefined && cut.has(e.scope)) && e.code !== 'aborted',
  );
  return ['cancelled', counts, errors];
}

function isAbortMessage(message: string | undefined): boolean {
  return message !== undefined && /abort|cancel|interrupt/i.test(message);
}
