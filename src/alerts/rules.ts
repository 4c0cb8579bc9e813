/**
 * When to alert, pause or recover, decided from what runs did — pure functions, so that the scheduler,
 * a worker and the tests reach the same decisions from the same facts.
 */
import { redact } from '../util/redact.js';
import type { AlertMessage } from './channels.js';

/** How a flow is watched. */
export interface AlertPolicy {
  /**
   * Consecutive failed runs after which the flow is paused (its schedule stops until resumed); 0 never
   * pauses.
   * @default 5
   */
  autoPauseAfter: number;
  /**
   * Quarantined records in one run from which an alert is raised; 0 turns the alert off.
   * @default 1
   */
  quarantineThreshold: number;
  /**
   * The freshness promise: the data is at most this many seconds old (since the last run that did not
   * fail). None when absent.
   * @example 7200
   */
  freshnessSeconds?: number;
}

export const DEFAULT_ALERT_POLICY: AlertPolicy = { autoPauseAfter: 5, quarantineThreshold: 1 };

/** What a finished run says, reduced to what the rules need. */
export interface FinishedRun {
  flow: { id: string; name: string };
  credential: { id: string; name: string };
  status: 'succeeded' | 'partial' | 'failed' | 'cancelled';
  finishedAt: string;
  /** The first error's message, redacted by whoever recorded it. */
  error?: string;
  /** Whether Ashby refused the key (401/403 on every request): the credential, not the flow, is wrong. */
  authFailed: boolean;
  quarantined: number;
  /** Columns the run added to the target's tables (`table.column`). */
  newColumns: readonly string[];
  /** Webhook events parked for the flow after the run (0 when it receives none). */
  parkedEvents?: number;
}

/** One thing to do after a run. */
export type Decision =
  | { type: 'raise'; message: AlertMessage & { state: 'open' } }
  | { type: 'resolve'; message: AlertMessage & { state: 'recovered' } }
  | { type: 'pause'; flowId: string; reason: string };

const open = (m: Omit<AlertMessage, 'state'>): Decision => ({
  type: 'raise',
  message: { ...m, state: 'open' },
});
const recovered = (m: Omit<AlertMessage, 'state'>): Decision => ({
  type: 'resolve',
  message: { ...m, state: 'recovered' },
});

/**
 * The decisions after `run`, given how many runs of the flow in a row have failed counting this one
 * (`consecutiveFailures`, 0 when it did not fail).
 */
export function decideAfterRun(
  finished: FinishedRun,
  consecutiveFailures: number,
  policy: AlertPolicy,
): Decision[] {
  // The pause reason is stored and shown; messages are redacted again on the way out.
  const run = finished.error === undefined ? finished : { ...finished, error: redact(finished.error) };
  const out: Decision[] = [];
  const base = { at: run.finishedAt, flow: run.flow };
  const failed = run.status === 'failed';
  if (run.status === 'cancelled') return out;
  if (failed) {
    out.push(
      open({
        ...base,
        event: 'run_failed',
        incident: `run_failed:${run.flow.id}`,
        title: `Flow "${run.flow.name}" failed`,
        text: `The run of flow "${run.flow.name}" failed${run.error ? `: ${run.error}` : ''}. Later failures are not announced again; a run that succeeds ends the incident.`,
        details: { consecutiveFailures },
      }),
    );
    // `>=`: a flow resumed by hand whose cause is not fixed is paused again by its next failure.
    if (policy.autoPauseAfter > 0 && consecutiveFailures >= policy.autoPauseAfter) {
      const reason = `paused after ${consecutiveFailures === 1 ? 'a failed run' : `${consecutiveFailures} failed runs in a row`}${run.error ? ` (last: ${run.error})` : ''}`;
      out.push({ type: 'pause', flowId: run.flow.id, reason });
      out.push(
        open({
          ...base,
          event: 'flow_auto_paused',
          incident: `flow_auto_paused:${run.flow.id}`,
          title: `Flow "${run.flow.name}" paused after ${consecutiveFailures} failed runs`,
          text: `Flow "${run.flow.name}" was ${reason}. Its schedule is stopped; resume it in the console (Flows › Activate) or with the REST API once the cause is fixed.`,
          details: { consecutiveFailures },
        }),
      );
    }
  } else {
    out.push(
      recovered({
        ...base,
        event: 'run_failed',
        incident: `run_failed:${run.flow.id}`,
        title: `Flow "${run.flow.name}" runs again`,
        text: `A run of flow "${run.flow.name}" finished (${run.status}) after failures.`,
      }),
      recovered({
        ...base,
        event: 'flow_auto_paused',
        incident: `flow_auto_paused:${run.flow.id}`,
        title: `Flow "${run.flow.name}" runs again after its pause`,
        text: `Flow "${run.flow.name}" was paused after failed runs; a run has now finished (${run.status}).`,
      }),
    );
  }
  if (run.authFailed)
    out.push(
      open({
        ...base,
        event: 'credential_failing',
        incident: `credential_failing:${run.credential.id}`,
        title: `Ashby refuses the key of credential "${run.credential.name}"`,
        text: `Ashby refused the API key of credential "${run.credential.name}" (revoked or rotated in Ashby?). Rotate the key in ashpipe (Credentials › Rotate); every flow using it fails until then.`,
      }),
    );
  else if (!failed)
    out.push(
      recovered({
        ...base,
        event: 'credential_failing',
        incident: `credential_failing:${run.credential.id}`,
        title: `Ashby accepts the key of credential "${run.credential.name}" again`,
        text: `A run with credential "${run.credential.name}" reached Ashby.`,
      }),
    );
  if (policy.quarantineThreshold > 0) {
    if (run.quarantined >= policy.quarantineThreshold)
      out.push(
        open({
          ...base,
          event: 'records_quarantined',
          incident: `records_quarantined:${run.flow.id}`,
          title: `Flow "${run.flow.name}" quarantined ${run.quarantined} record${run.quarantined === 1 ? '' : 's'}`,
          text: `${run.quarantined} record(s) of flow "${run.flow.name}" were quarantined with their reasons (Quarantine in the console, or \`ashpipe quarantine list\`).`,
          details: { quarantined: run.quarantined },
        }),
      );
    else if (!failed)
      out.push(
        recovered({
          ...base,
          event: 'records_quarantined',
          incident: `records_quarantined:${run.flow.id}`,
          title:
            run.quarantined === 0
              ? `Flow "${run.flow.name}" quarantines nothing any more`
              : `Flow "${run.flow.name}" quarantines fewer records than its threshold again`,
          text: `The last run of flow "${run.flow.name}" quarantined ${run.quarantined} record${run.quarantined === 1 ? '' : 's'}${run.quarantined === 0 ? '' : ` (the threshold is ${policy.quarantineThreshold})`}.`,
        }),
      );
  }
  if (run.newColumns.length > 0) {
    // Each distinct change is its own incident: it is news once, and there is nothing to recover from.
    const columns = [...run.newColumns].sort();
    out.push(
      open({
        ...base,
        event: 'schema_changed',
        incident: `schema_changed:${run.flow.id}:${columns.join(',')}`,
        title: `New columns in the target of flow "${run.flow.name}"`,
        text: `Ashby sent fields the target did not have; ashpipe added ${columns.join(', ')}.`,
        details: { columns },
      }),
    );
  }
  if (run.parkedEvents !== undefined) out.push(decideParked(run.flow, run.parkedEvents, run.finishedAt));
  return out;
}

/**
 * The decision when the number of a flow's parked webhook events is known (`parked`): some parked opens
 * the incident, none ends it.
 */
export function decideParked(flow: { id: string; name: string }, parked: number, at: string): Decision {
  const base = {
    at,
    flow,
    event: 'webhook_events_parked' as const,
    incident: `webhook_events_parked:${flow.id}`,
  };
  return parked > 0
    ? open({
        ...base,
        title: `${parked} webhook event(s) of flow "${flow.name}" are parked`,
        text: `Webhook events that could not be applied after retries are parked (Flows › Webhooks › Parked events: retry them).`,
        details: { parked },
      })
    : recovered({
        ...base,
        title: `No webhook events of flow "${flow.name}" are parked`,
        text: 'Every parked event was applied or dropped.',
      });
}

/** A flow's freshness as the scheduler sees it. */
export interface FreshnessFact {
  flow: { id: string; name: string };
  promiseSeconds: number;
  /** When the last run that did not fail finished; null when none has. */
  lastGoodAt: string | null;
  /** When the flow was created or its promise set: the clock starts there when no run has finished. */
  since: string;
}

/** The freshness decisions at `now`: a broken promise opens an incident, a kept one ends it. */
export function checkFreshness(facts: readonly FreshnessFact[], now: Date): Decision[] {
  return facts.map((f) => {
    const from = Date.parse(f.lastGoodAt ?? f.since);
    const ageSeconds = Math.max(0, Math.floor((now.getTime() - from) / 1000));
    const base = {
      at: now.toISOString(),
      flow: f.flow,
      event: 'freshness_broken' as const,
      incident: freshnessIncident(f.flow.id),
      details: { ageSeconds, promiseSeconds: f.promiseSeconds },
    };
    return ageSeconds > f.promiseSeconds
      ? open({
          ...base,
          title: `Data of flow "${f.flow.name}" is older than promised`,
          text: `The data of flow "${f.flow.name}" is ${describeSeconds(ageSeconds)} old; the promise is at most ${describeSeconds(f.promiseSeconds)}.${f.lastGoodAt ? ` Last good run: ${f.lastGoodAt}.` : ' No run has finished yet.'}`,
        })
      : recovered({
          ...base,
          title: `Data of flow "${f.flow.name}" is fresh again`,
          text: `The data of flow "${f.flow.name}" is ${describeSeconds(ageSeconds)} old, within the promise of ${describeSeconds(f.promiseSeconds)}.`,
        });
  });
}

/** The incident of a flow's broken freshness promise. */
export function freshnessIncident(flowId: string): string {
  return `freshness_broken:${flowId}`;
}

/** Why a flow's broken freshness promise is no longer checked. */
export type FreshnessWithdrawal = 'paused' | 'promise removed' | 'deleted';

/**
 * The end of a broken freshness promise that is no longer checked (the flow was paused or deleted, or its
 * promise removed): its incident is closed and the channels told it began hear why, so that a promise set
 * again later opens a new incident rather than folding into a stale one.
 */
export function withdrawFreshness(
  flow: { id: string; name: string },
  why: FreshnessWithdrawal,
  now: Date,
): Decision {
  const what =
    why === 'paused' ? 'was paused' : why === 'deleted' ? 'was deleted' : 'no longer has a freshness promise';
  return recovered({
    at: now.toISOString(),
    flow,
    event: 'freshness_broken',
    incident: freshnessIncident(flow.id),
    title: `Flow "${flow.name}" is no longer held to its freshness promise`,
    text: `Flow "${flow.name}" ${what}: its freshness is no longer checked, and the broken promise is closed.`,
    details: { reason: why },
  });
}

/** `2 h 5 min`, `45 s`. */
export function describeSeconds(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const parts = [d ? `${d} d` : '', h ? `${h} h` : '', m ? `${m} min` : '', !d && !h && !m ? `${s} s` : ''];
  return parts.filter(Boolean).join(' ');
}
