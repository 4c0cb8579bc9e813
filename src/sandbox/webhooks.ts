import { createHmac, randomUUID } from 'node:crypto';
import { listedApplication } from './generators/applications.js';
import type { Rec, World, WorldEvent } from './world.js';

/** Ashby retries failed deliveries at most this many times in all (API-NOTES §7). */
export const MAX_ATTEMPTS = 10;
/** Statuses Ashby does not retry (API-NOTES §7). */
const FINAL_STATUSES = new Set([401, 403, 404, 405, 410]);

/** One delivery as the sandbox made it, for tests and the demo. */
export interface WebhookDelivery {
  webhookId: string;
  action: string;
  requestUrl: string;
  attempt: number;
  /** HTTP status of the answer, or `undefined` when the request failed (refused, timed out). */
  status: number | undefined;
}

/** The webhook action a change stands for, and its `data` (API-NOTES §7 table). */
function payloadOf(event: WorldEvent): { action: string; data: Record<string, unknown> } | undefined {
  const rec = event.record;
  if (!rec) return undefined;
  // Announced actions carry the application (candidateStageChange, candidateHire) or the posting
  // (jobPostingPublish, jobPostingUnpublish).
  if (event.action)
    return {
      action: event.action,
      data: event.action.startsWith('jobPosting')
        ? { jobPosting: rec }
        : { application: listedApplication(rec) },
    };
  const change = event.change;
  if (!change) return undefined;
  switch (`${change.kind}.${change.op}`) {
    case 'candidate.delete':
      return { action: 'candidateDelete', data: { candidate: rec } };
    case 'candidate.merge':
      return {
        action: 'candidateMerge',
        data: { deletedCandidate: rec, mergedCandidate: event.mergedInto ?? { id: change.mergedIntoId } },
      };
    case 'application.create':
      return { action: 'applicationSubmit', data: { application: listedApplication(rec) } };
    case 'application.update':
      return { action: 'applicationUpdate', data: { application: listedApplication(rec) } };
    case 'job.create':
      return { action: 'jobCreate', data: { job: rec } };
    case 'job.update':
      return { action: 'jobUpdate', data: { job: rec } };
    case 'offer.create':
      return { action: 'offerCreate', data: { offer: rec } };
    case 'offer.update':
      return { action: 'offerUpdate', data: { offer: rec } };
    case 'offer.delete':
      return { action: 'offerDelete', data: { offer: rec } };
    case 'opening.create':
      return { action: 'openingCreate', data: { opening: rec } };
    case 'interviewSchedule.create':
      return { action: 'interviewScheduleCreate', data: { interviewSchedule: rec } };
    case 'interviewSchedule.update':
      return { action: 'interviewScheduleUpdate', data: { interviewSchedule: rec } };
    case 'jobPosting.update':
      return { action: 'jobPostingUpdate', data: { jobPosting: rec } };
    case 'surveySubmission.create':
      return { action: 'surveySubmit', data: { surveySubmission: rec } };
    default:
      return undefined;
  }
}

/** Only loopback receivers get deliveries: the sandbox must never call out of the machine. */
function isLoopback(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  } catch {
    return false;
  }
}

/**
 * Delivers webhooks registered with `webhook.create`: every matching change is POSTed as
 * `{action, data}` with `Ashby-Signature: sha256=<HMAC-SHA256 of the raw body>` and retried with
 * (2^attempt − 1) × `retryBaseMs` delays, up to {@link MAX_ATTEMPTS} attempts, except on 401/403/404/405/410.
 */
export class WebhookEmitter {
  readonly deliveries: WebhookDelivery[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<AbortController>();
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly world: World,
    private readonly retryBaseMs: number,
    private readonly timeoutMs = 10_000,
  ) {
    this.unsubscribe = world.onEvent((event) => this.onEvent(event));
  }

  private hooks(): Rec[] {
    return this.world.allOf('webhook').filter((h) => h.enabled === true);
  }

  private onEvent(event: WorldEvent): void {
    if (this.closed) return;
    if (event.change?.kind === 'webhook') {
      const op = event.change.op;
      if ((op === 'create' || op === 'update') && event.record?.enabled !== false) this.ping(event.record);
      return;
    }
    const payload = payloadOf(event);
    if (!payload) return;
    const hooks = this.hooks().filter((h) => h.webhookType === payload.action);
    if (hooks.length === 0) return;
    // One id per event: the same in every retry and in every webhook the event fans out to (API-NOTES §7).
    const body = JSON.stringify({ webhookActionId: randomUUID(), ...payload });
    for (const hook of hooks) {
      if (typeof hook.requestUrl !== 'string' || !isLoopback(hook.requestUrl)) continue;
      this.deliver(hook, payload.action, body, 1);
    }
  }

  /**
   * Creating or editing a webhook sends a `ping`, once: no answer or a status of 400 and above leaves the
   * webhook disabled until it is edited again (API-NOTES §7).
   */
  private ping(hook: Rec | undefined): void {
    if (!hook || typeof hook.requestUrl !== 'string' || !isLoopback(hook.requestUrl)) return;
    const body = JSON.stringify({
      webhookActionId: randomUUID(),
      action: 'ping',
      data: { webhookActionType: 'ping' },
    });
    this.deliver(hook, 'ping', body, MAX_ATTEMPTS, (ok) => {
      if (!ok && !this.closed && this.world.get(hook.id, 'webhook'))
        this.world.update(hook.id, { enabled: false });
    });
  }

  private deliver(
    hook: Rec,
    action: string,
    body: string,
    attempt: number,
    onDone?: (ok: boolean) => void,
  ): void {
    if (this.closed) return;
    const url = String(hook.requestUrl);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (typeof hook.secretToken === 'string' && hook.secretToken !== '') {
      headers['ashby-signature'] =
        `sha256=${createHmac('sha256', hook.secretToken).update(body).digest('hex')}`;
    }
    const abort = new AbortController();
    this.inFlight.add(abort);
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    const record = (status: number | undefined) => {
      clearTimeout(timer);
      this.inFlight.delete(abort);
      this.deliveries.push({ webhookId: hook.id, action, requestUrl: url, attempt, status });
      const ok = status !== undefined && status >= 200 && status < 300;
      if (onDone) {
        onDone(status !== undefined && status < 400);
        return;
      }
      if (ok || (status !== undefined && FINAL_STATUSES.has(status)) || attempt >= MAX_ATTEMPTS) return;
      const delay = (2 ** attempt - 1) * this.retryBaseMs;
      const retry = setTimeout(() => {
        this.timers.delete(retry);
        this.deliver(hook, action, body, attempt + 1);
      }, delay);
      retry.unref();
      this.timers.add(retry);
    };
    fetch(url, { method: 'POST', headers, body, signal: abort.signal })
      .then(async (res) => {
        await res.arrayBuffer().catch(() => undefined);
        record(res.status);
      })
      .catch(() => record(undefined));
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const a of this.inFlight) a.abort();
  }
}
