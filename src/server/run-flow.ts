/**
 * One run of a flow, from its recorded start to its recorded end: paths checked again, the key read from
 * the vault, the engine run with progress recorded in order, the outcome (or the failure) written. The
 * server's scheduler runs flows in its process with it, and so does a fleet worker (`ashpipe worker`)
 * for the runs it takes from the queue — the same engine and the same record either way.
 */
import type { Limiter } from '../ashby/limiter.js';
import type { Logger } from '../util/logger.js';
import { redact } from '../util/redact.js';
import { translateError, ValidationError } from './errors.js';
import type { ServerMetrics } from './metrics.js';
import type { Flow, Run, RunCount } from './model.js';
import { type PathPolicy, resolveFlowPaths } from './paths.js';
import { asCancelled } from './run-cancel.js';
import type { FlowEngine, RunProgress, ServerServices } from './services.js';
import type { ServerStore } from './store.js';

/** What a run needs besides its flow and its row. */
export interface RunFlowDeps {
  store: ServerStore;
  services: ServerServices;
  logger: Logger;
  /** Where flow files may be; checked again at each run. @default no check */
  paths?: PathPolicy;
  /** Where the run's client events are counted. @default none */
  metrics?: ServerMetrics;
}

/** A flow's key as read from the vault before the run: granted, or the reason it could not be read. */
export type FlowAccess =
  | { granted: Awaited<ReturnType<ServerServices['credentials']['access']>> }
  | { refused: unknown };

/** Options of one {@link runFlow}. */
export interface RunFlowOptions {
  dryRun: boolean;
  /**
   * The key, read already (the scheduler reads it before the run goes on its own); a refusal fails the run.
   * @default read from the vault here
   */
  access?: FlowAccess;
  /** An engine instead of the flow kind's own (a quarantine replay). */
  engine?: FlowEngine;
  /** The run's limiter (a fleet worker's, paced by the key's fleet-wide budget). @default the engine's */
  limiter?: (flow: Flow) => Limiter;
  /** Told of each recorded progress update (server-sent events). */
  onProgress?: (run: Run, message?: string) => void;
  /**
   * Asked once the engine has returned or thrown: `true` when the run was cut short to be handed to
   * another worker (this one is stopping, or lost its lease). The end is then not recorded and
   * {@link runFlow} answers `undefined`: the run is not over, it goes on elsewhere.
   * @default never
   */
  handedBack?: () => boolean;
  /**
   * Asked once the engine has returned or thrown: `true` when a person cancelled the run. Its end is then
   * recorded `cancelled` (see `asCancelled`) in the same write, so no reader ever sees it `failed` first.
   * @default never
   */
  cancelled?: () => boolean;
}

/**
 * Runs a flow whose run row exists (`running`) and records how it ended.
 * @returns the finished run, or `undefined` when {@link RunFlowOptions.handedBack} says the run goes on
 *   elsewhere
 */
export async function runFlow(
  deps: RunFlowDeps,
  flow: Flow,
  run: Run,
  signal: AbortSignal,
  options: RunFlowOptions,
): Promise<Run | undefined> {
  const { store, services } = deps;
  let counts: RunCount[] = [];
  const logger = deps.logger.child({ flowId: flow.id, runId: run.id });
  // Progress is recorded in order, and all of it before the run's end (which it must not overwrite).
  let recorded: Promise<void> = Promise.resolve();
  try {
    let resolved = flow;
    if (deps.paths !== undefined) {
      try {
        resolved = { ...flow, config: resolveFlowPaths(deps.paths, flow.config) };
      } catch (error) {
        throw new ValidationError(
          `refused to run flow "${flow.name}": ${error instanceof Error ? error.message : String(error)}; change the flow's path`,
        );
      }
    }
    const given = options.access;
    if (given && 'refused' in given) throw given.refused;
    const access = given
      ? given.granted
      : await services.credentials.access(flow.credentialId, `flow ${flow.name}`);
    const metrics = deps.metrics;
    const engine =
      options.engine ?? (flow.kind === 'source' ? services.engines.source : services.engines.destination);
    const limiter = options.limiter?.(flow);
    const outcome = await engine(resolved, {
      runId: run.id,
      apiKey: access.apiKey,
      baseUrl: access.baseUrl,
      signal,
      logger,
      dryRun: options.dryRun,
      ...(limiter ? { limiter } : {}),
      ...(metrics
        ? metrics.runHooks(
            flow,
            { id: flow.credentialId, name: access.credential.name },
            access.apiKey,
            options.dryRun,
          )
        : {}),
      progress: (update: RunProgress) => {
        counts = update.counts;
        const snapshot = update.counts;
        recorded = recorded
          .then(async () => {
            await store.updateRunCounts(run.id, snapshot);
            const current = await store.getRun(run.id);
            if (current) options.onProgress?.(current, update.message ? redact(update.message) : undefined);
          })
          .catch((error: unknown) => {
            logger.warn('run progress not recorded', { error: redact(String(error)) });
          });
      },
    });
    await recorded;
    if (options.handedBack?.()) return undefined;
    const errors = outcome.errors.map(redactError);
    if (options.cancelled?.())
      return await store.finishRun(
        run.id,
        ...asCancelled({ ...run, status: outcome.status, counts: outcome.counts, errors }),
        outcome.analytics,
      );
    return await store.finishRun(run.id, outcome.status, outcome.counts, errors, outcome.analytics);
  } catch (error) {
    await recorded;
    if (options.handedBack?.()) return undefined;
    const t = translateError(error);
    const message = error instanceof Error ? error.message : String(error);
    const errors = [{ code: t.code, message: redact(message) }];
    if (options.cancelled?.())
      return await store.finishRun(run.id, ...asCancelled({ ...run, status: 'failed', counts, errors }));
    logger.error('run failed', { error: message });
    return await store.finishRun(run.id, 'failed', counts, errors);
  }
}

function redactError<T extends { message: string }>(error: T): T {
  return { ...error, message: redact(error.message) };
}
