import { EventEmitter } from 'node:events';
import { Cron } from 'croner';
import type { Logger } from '../util/logger.js';
import { redact } from '../util/redact.js';
import { ConflictError, NotFoundError, ValidationError } from './errors.js';
import type { QueueTrigger, RunDispatch } from './fleet.js';
import type { ServerMetrics } from './metrics.js';
import type { Flow, Run, RunTrigger } from './model.js';
import type { PathPolicy } from './paths.js';
import { type FlowAccess, runFlow } from './run-flow.js';
import { newId } from './security/crypto.js';
import type { FlowEngine, ServerServices } from './services.js';
import type { ServerStore } from './store.js';

/**
 * What happens to schedule slots that passed while the server was down.
 * - `run-once`: at startup, a flow whose schedule fired at least once since its last run (or since it was
 *   activated) runs once, however many slots it missed; never several catch-up runs.
 * - `skip`: missed slots are ignored; the flow waits for its next slot.
 */
export type MissedRunPolicy = 'run-once' | 'skip';

/** Options of the {@link Scheduler}. */
export interface SchedulerOptions {
  /**
   * Missed-run policy after downtime.
   * @default 'run-once'
   */
  missedRuns?: MissedRunPolicy;
  /**
   * IANA time zone the cron expressions are read in.
   * @default the server's local time zone
   * @example 'Europe/Berlin'
   */
  timezone?: string;
  /** Clock, for tests. @default () => new Date() */
  now?: () => Date;
  /**
   * Where flow files may be: every run checks its flow's paths again (flows saved before a check, or
   * paths that became links since, are refused at run time) and runs with their real paths.
   * @default no check at run time
   * @example { dataDirs: ['/var/lib/ashpipe/data'], home: '/var/lib/ashpipe' }
   */
  paths?: PathPolicy;
  /**
   * Where finished runs and the Ashby client's events of runs are counted (`GET /metrics`).
   * @default none: nothing counted
   */
  metrics?: ServerMetrics;
  /**
   * Told of every finished run, and every {@link FRESHNESS_CHECK_MS} asked to check freshness promises
   * (`FlowAlerting`: alerts and auto-pause).
   * @default none
   */
  alerting?: {
    runFinished(flow: Flow, run: Run): Promise<void>;
    checkFreshness(now: Date): Promise<void>;
  };
  /**
   * The fleet's run queue (a PostgreSQL control store): scheduled, startup and "run now" runs are queued
   * for workers instead of run here; dry runs and quarantine replays still run in this process.
   * @default none: every run runs in this process
   */
  dispatch?: RunDispatch;
}

/** How often a queued or remote run's record is read again while someone waits for its end. */
const REMOTE_POLL_MS = 250;

/** How often freshness promises are checked. */
export const FRESHNESS_CHECK_MS = 60_000;

/** Events of one run, for server-sent events. */
export type RunEvent = { type: 'progress'; run: Run; message?: string } | { type: 'finished'; run: Run };

interface ActiveRun {
  runId: string;
  controller: AbortController;
  done: Promise<Run>;
}

/** Throws a 422 when `expression` is not a cron expression croner accepts. */
export function validateSchedule(expression: string, timezone?: string): void {
  try {
    new Cron(expression, { paused: true, ...(timezone ? { timezone } : {}) }).stop();
  } catch (error) {
    throw new ValidationError(
      `schedule "${expression}" is not a valid cron expression: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/**
 * Runs flows on their cron schedules and on demand. One flow never runs twice at once: a second trigger
 * while a run is going is refused with a 409 naming the running run. Run history lives in the control
 * store; runs left `running` by a stopped process are marked failed at start.
 */
export class Scheduler {
  private readonly jobs = new Map<string, Cron>();
  private readonly active = new Map<string, ActiveRun>();
  /** Flows whose run is being recorded, not yet in `active`. */
  private readonly starting = new Set<string>();
  /** Runs a person asked to stop: they end `cancelled`, not `failed`. */
  private readonly cancelled = new Set<string>();
  private readonly events = new EventEmitter();
  private freshnessTimer: NodeJS.Timeout | undefined;
  private reconcileTimer: NodeJS.Timeout | undefined;
  private readonly missed: MissedRunPolicy;
  private readonly now: () => Date;
  private started = false;

  constructor(
    private readonly store: ServerStore,
    private readonly services: ServerServices,
    private readonly logger: Logger,
    private readonly options: SchedulerOptions = {},
  ) {
    this.missed = options.missedRuns ?? 'run-once';
    this.now = options.now ?? (() => new Date());
    this.events.setMaxListeners(0);
  }

  /** Marks interrupted runs failed, schedules every active flow, applies the missed-run policy. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const alerting = this.options.alerting;
    if (alerting) {
      this.freshnessTimer = setInterval(() => {
        void alerting.checkFreshness(this.now());
      }, FRESHNESS_CHECK_MS);
      this.freshnessTimer.unref();
    }
    const dispatch = this.options.dispatch;
    if (dispatch) {
      this.reconcileTimer = setInterval(() => {
        dispatch.reconcile().catch((error: unknown) => {
          this.logger.warn('queued runs not reconciled', { error: redact(String(error)) });
        });
      }, dispatch.reconcileMs);
      this.reconcileTimer.unref();
    }
    // Runs of the queue are not this process's: their workers (or the next to take them) finish them.
    const interrupted = await this.store.failInterruptedRuns({ inProcessOnly: dispatch !== undefined });
    if (interrupted > 0)
      this.logger.warn('runs interrupted by the previous stop marked failed', { interrupted });
    for (const flow of await this.store.listFlows()) {
      await this.refresh(flow.id);
      if (
        flow.status === 'active' &&
        flow.schedule &&
        this.missed === 'run-once' &&
        (await this.missedSlot(flow))
      ) {
        this.logger.info('running a flow once for the schedule slots missed while stopped', {
          flowId: flow.id,
        });
        await this.trigger(flow.id, 'startup');
      }
    }
  }

  /** Stops every schedule and waits for the running runs to end (they are asked to stop first). */
  async stop(options: { abort?: boolean } = {}): Promise<void> {
    this.started = false;
    if (this.freshnessTimer) clearInterval(this.freshnessTimer);
    this.freshnessTimer = undefined;
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    this.reconcileTimer = undefined;
    for (const job of this.jobs.values()) job.stop();
    this.jobs.clear();
    const running = [...this.active.values()];
    if (options.abort) for (const r of running) r.controller.abort();
    await Promise.allSettled(running.map((r) => r.done));
  }

  /** Whether a slot of the flow's schedule passed since its last run (or its activation). */
  private async missedSlot(flow: Flow): Promise<boolean> {
    if (!flow.schedule) return false;
    const since = (await this.store.lastRun(flow.id))?.startedAt ?? flow.activatedAt;
    if (!since) return false;
    const cron = new Cron(flow.schedule, {
      paused: true,
      ...(this.options.timezone ? { timezone: this.options.timezone } : {}),
    });
    const next = cron.nextRun(new Date(since));
    cron.stop();
    return next !== null && next.getTime() <= this.now().getTime();
  }

  /** Re-reads a flow and (re)schedules it: call after create, update, activate, pause and delete. */
  async refresh(flowId: string): Promise<void> {
    this.jobs.get(flowId)?.stop();
    this.jobs.delete(flowId);
    if (!this.started) return;
    const flow = await this.store.getFlow(flowId);
    // A refresh of the same flow may have scheduled it while this one read the flow.
    this.jobs.get(flowId)?.stop();
    if (flow?.status !== 'active' || !flow.schedule) return;
    const job = new Cron(
      flow.schedule,
      { name: flowId, ...(this.options.timezone ? { timezone: this.options.timezone } : {}) },
      () => {
        this.trigger(flowId, 'schedule').catch((error: unknown) => {
          // A slot that fires while the previous run is still going is skipped, not queued.
          this.logger.warn('scheduled run skipped', { flowId, reason: redact(String(error)) });
        });
      },
    );
    this.jobs.set(flowId, job);
  }

  /** Next time a flow's schedule fires, when it is scheduled. */
  nextRun(flowId: string): Date | null {
    return this.jobs.get(flowId)?.nextRun() ?? null;
  }

  /** The id of the flow's running run in this process, when one is going. */
  runningRun(flowId: string): string | undefined {
    return this.active.get(flowId)?.runId;
  }

  /** The id of the flow's run that is going, here or (with the fleet's queue) queued or on a worker. */
  async activeRunId(flowId: string): Promise<string | undefined> {
    return (await this.activeRun(flowId))?.id;
  }

  /**
   * The flow's run that is going and where it is: `running` here or on a worker, or `queued` waiting for
   * a worker (the fleet's queue).
   */
  async activeRun(flowId: string): Promise<{ id: string; status: 'queued' | 'running' } | undefined> {
    const local = this.active.get(flowId)?.runId;
    if (local !== undefined) return { id: local, status: 'running' };
    if (!this.options.dispatch) return undefined;
    const run = await this.store.activeRun(flowId);
    if (!run) return undefined;
    return { id: run.id, status: run.status === 'queued' ? 'queued' : 'running' };
  }

  /** Whether the run runs in this process (its progress and end are pushed as events). */
  isLocal(runId: string): boolean {
    for (const r of this.active.values()) if (r.runId === runId) return true;
    return false;
  }

  /**
   * Starts a run of a flow and returns it (status `running`) without waiting for it to end.
   * @throws ConflictError (409) when the flow is already running.
   */
  async trigger(
    flowId: string,
    trigger: RunTrigger,
    options: { dryRun?: boolean; engine?: FlowEngine } = {},
  ): Promise<Run> {
    const flow = await this.store.getFlow(flowId);
    if (!flow) throw new NotFoundError('flow', flowId);
    // Paused since the slot was scheduled (a person, or auto-pause after failures on another worker).
    if (trigger === 'schedule' && flow.status !== 'active')
      throw new ConflictError(`Flow "${flow.name}" is paused.`, 'flow_paused');
    const going = this.active.get(flowId);
    if (going) {
      throw new ConflictError(
        `Flow "${flow.name}" is already running (run ${going.runId}); wait for it to finish.`,
        'run_in_progress',
        { runId: going.runId },
      );
    }
    // Claimed before the run row is written (an await), so two triggers at once start one run.
    if (this.starting.has(flowId)) {
      throw new ConflictError(
        `Flow "${flow.name}" is already starting a run; wait for it to finish.`,
        'run_in_progress',
      );
    }
    this.starting.add(flowId);
    let run: Run;
    let access: FlowAccess;
    try {
      const dispatch = this.options.dispatch;
      if (dispatch) {
        if (isQueueTrigger(trigger) && !options.dryRun && !options.engine)
          return await this.enqueue(dispatch, flow, trigger);
        // A run in this process must not overlap a run of the flow queued or going on a worker.
        const queued = await this.store.activeRun(flowId);
        if (queued) throw alreadyGoing(flow, queued.id);
      }
      run = await this.store.startRun(flow, trigger, options.dryRun ?? false);
      // Decrypted before the run goes on its own, so the engine has started when this returns; a key
      // that cannot be read fails the run (in `execute`), not the trigger.
      access = await this.services.credentials.access(flow.credentialId, `flow ${flow.name}`).then(
        (granted) => ({ granted }),
        (refused: unknown) => ({ refused }),
      );
    } finally {
      this.starting.delete(flowId);
    }
    const controller = new AbortController();
    const done = this.execute(
      flow,
      run,
      access,
      controller.signal,
      options.dryRun ?? false,
      options.engine,
    ).finally(() => {
      this.active.delete(flowId);
    });
    this.active.set(flowId, { runId: run.id, controller, done });
    return run;
  }

  /** Queues a run for the fleet's workers: its record says `queued` until a worker takes it. */
  private async enqueue(dispatch: RunDispatch, flow: Flow, trigger: QueueTrigger): Promise<Run> {
    const runId = newId('run');
    const result = await dispatch.enqueue(flow, trigger, runId);
    if (!result.queued) throw alreadyGoing(flow, result.runId);
    this.logger.info('run queued', { flowId: flow.id, runId, trigger });
    return await this.store.queueRun(flow, trigger, runId, result.jobId);
  }

  /**
   * Resolves with the finished run (for tests and `--wait` callers); a run of the fleet's queue is read
   * again until it ends.
   */
  async waitFor(runId: string): Promise<Run | undefined> {
    for (const r of this.active.values()) if (r.runId === runId) return r.done;
    let run = await this.store.getRun(runId);
    while (this.options.dispatch && run && (run.status === 'queued' || run.status === 'running')) {
      await new Promise((resolve) => setTimeout(resolve, REMOTE_POLL_MS));
      run = await this.store.getRun(runId);
    }
    return run;
  }

  /**
   * Asks the flow's running run to stop; answers false when none is going. With the fleet's queue, a
   * queued run is taken out of the queue (`cancelled`); for a run going on a worker the request is
   * recorded, and that worker stops the run within its poll interval (it ends `cancelled`).
   */
  async cancel(flowId: string): Promise<boolean> {
    const going = this.active.get(flowId);
    if (going) {
      this.cancelled.add(going.runId);
      going.controller.abort();
      return true;
    }
    const dispatch = this.options.dispatch;
    if (!dispatch) return false;
    const run = await this.store.activeRun(flowId);
    const flow = await this.store.getFlow(flowId);
    if (!run || !flow) return false;
    if (run.status === 'queued' && (await dispatch.cancelQueued(flow, run))) return true;
    // Going on a worker, or taken by one since it was read: that worker reads the request and stops it.
    const asked = await dispatch.requestCancel(run);
    if (asked)
      this.logger.info('cancel of a run on a worker asked', { flowId, runId: run.id, worker: run.worker });
    return asked;
  }

  /** Listens to a run's progress and end; returns the unsubscribe function. */
  subscribe(runId: string, listener: (event: RunEvent) => void): () => void {
    this.events.on(runId, listener);
    return () => this.events.off(runId, listener);
  }

  private async execute(
    flow: Flow,
    run: Run,
    access: FlowAccess,
    signal: AbortSignal,
    dryRun: boolean,
    override?: FlowEngine,
  ): Promise<Run> {
    // A run in this process leaves its start and end in the log at info, as a fleet worker's does.
    const logger = this.logger.child({ flowId: flow.id, runId: run.id });
    logger.info('run started', { trigger: run.trigger, ...(dryRun ? { dryRun } : {}) });
    // Without `handedBack`, runFlow always records the end and answers the finished run.
    const finished = (await runFlow(
      {
        store: this.store,
        services: this.services,
        logger: this.logger,
        ...(this.options.paths !== undefined ? { paths: this.options.paths } : {}),
        ...(this.options.metrics ? { metrics: this.options.metrics } : {}),
      },
      flow,
      run,
      signal,
      {
        dryRun,
        access,
        ...(override ? { engine: override } : {}),
        cancelled: () => this.cancelled.has(run.id),
        onProgress: (current, message) =>
          this.events.emit(run.id, {
            type: 'progress',
            run: current,
            ...(message ? { message } : {}),
          } satisfies RunEvent),
      },
    )) as Run;
    this.cancelled.delete(run.id);
    logger.info('run finished', {
      status: finished.status,
      read: finished.counts.reduce((n, c) => n + c.read, 0),
      written: finished.counts.reduce((n, c) => n + c.written, 0),
    });
    this.options.metrics?.runFinished(flow, finished);
    // Not awaited: a slow SMTP server must not hold the run open (alerting queues and never throws).
    void this.options.alerting?.runFinished(flow, finished);
    this.events.emit(run.id, { type: 'finished', run: finished } satisfies RunEvent);
    return finished;
  }
}

function isQueueTrigger(trigger: RunTrigger): trigger is QueueTrigger {
  return trigger === 'schedule' || trigger === 'manual' || trigger === 'startup';
}

function alreadyGoing(flow: Flow, runId: string): ConflictError {
  return new ConflictError(
    `Flow "${flow.name}" already has a run queued or running (run ${runId}); wait for it to finish.`,
    'run_in_progress',
    { runId },
  );
}
