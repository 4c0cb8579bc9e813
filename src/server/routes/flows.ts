import { Hono } from 'hono';
import { APPLY_HEADER, type ApiResponse, MAX_SAMPLE } from '../api-schema.js';
import type { AppEnv } from '../auth.js';
import { readBody, type ServerDeps } from '../context.js';
import {
  flowAnalytics,
  flowHistory,
  flowOnDelete,
  flowPolicy,
  refreshAfterOption,
  sourceRequestOptions,
} from '../engines.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { createFlowSchema, type Flow, type FlowConfig } from '../model.js';
import { resolveFlowPaths } from '../paths.js';
import { validateSchedule } from '../scheduler.js';

/** A flow as the API returns it: stored fields, the running run, the last run and the next slot. */
async function view(deps: ServerDeps, flow: Flow): Promise<ApiResponse<'flow'>['flow']> {
  const last = await deps.store.lastRun(flow.id);
  const next = deps.scheduler.nextRun(flow.id);
  const going = await deps.scheduler.activeRun(flow.id);
  return {
    ...flow,
    runningRunId: going?.id ?? null,
    runningRunStatus: going?.status ?? null,
    lastRun: last
      ? { id: last.id, status: last.status, startedAt: last.startedAt, finishedAt: last.finishedAt }
      : null,
    nextRunAt: next ? next.toISOString() : null,
  };
}

/** What else must happen when a flow goes. */
export interface FlowRouteHooks {
  /** Called after a flow is deleted, e.g. to close its webhook receiver and release its target. */
  onDeleted?: (flowId: string) => Promise<void>;
}

/** `/api/v1/flows`: sources and destinations with their schedules; activate, pause, run now, test. */
export function flowRoutes(deps: ServerDeps, hooks: FlowRouteHooks = {}): Hono<AppEnv> {
  const { store, scheduler, services } = deps;
  const app = new Hono<AppEnv>();

  const load = async (id: string): Promise<Flow> => {
    const flow = await store.getFlow(id);
    if (!flow) throw new NotFoundError('flow', id);
    return flow;
  };

  /** Checks a flow before it is saved or tested; returns its configuration with real file paths. */
  const check = async <C extends FlowConfig>(config: C): Promise<C> => {
    // 404 for an unknown credential would read as "no such flow"; it is a bad value in the body.
    if (!(await services.credentials.list()).some((c) => c.id === config.credentialId)) {
      throw new ValidationError(`credential ${config.credentialId} does not exist`, [
        { path: 'credentialId', message: 'unknown credential' },
      ]);
    }
    if (config.schedule) validateSchedule(config.schedule, deps.timezone);
    const resolved = resolveFlowPaths(deps.paths, config);
    if (config.kind === 'source') {
      const known = new Set(services.streams().map((s) => s.name));
      const unknown = config.streams.filter((s) => !known.has(s));
      if (unknown.length > 0) throw new ValidationError(`unknown stream(s): ${unknown.join(', ')}`);
      sourceRequestOptions(config.options);
      refreshAfterOption(config.options.refreshAfter);
      flowAnalytics(config.options, config.target);
      flowHistory(config.options);
      flowPolicy(config.options);
      flowOnDelete(config.options);
    } else {
      services.checkDestination?.(config);
    }
    return resolved;
  };

  // The zone cron schedules run in comes with the list: the console previews next runs in it.
  app.get('/', async (c) =>
    c.json({
      flows: await Promise.all((await store.listFlows()).map((f) => view(deps, f))),
      timezone: deps.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
    } satisfies ApiResponse<'flows'>),
  );

  app.post('/', async (c) => {
    const config = await readBody(c, createFlowSchema);
    await check(config);
    const flow = await store.createFlow(config);
    if (c.req.query('activate') === 'true') {
      await store.setFlowStatus(flow.id, 'active');
      await scheduler.refresh(flow.id);
    }
    return c.json({ flow: await view(deps, await load(flow.id)) }, 201);
  });

  // The console's Test step before a flow is saved: a source reads a few records of its first stream; a
  // destination is dry-run over its first records (mapping, validation, look-ups; nothing written).
  app.post('/test', async (c) => {
    const config = await check(await readBody(c, createFlowSchema));
    const limit = Math.min(Math.max(Number.parseInt(c.req.query('limit') ?? '5', 10) || 5, 1), MAX_SAMPLE);
    const access = await services.credentials.access(config.credentialId, `test flow ${config.name}`);
    if (config.kind === 'source') {
      const stream = config.streams[0] ?? services.streams()[0]?.name;
      if (!stream) throw new ValidationError('no stream to sample');
      const records = await services.sample(access, stream, limit);
      return c.json({
        kind: 'source',
        stream,
        records: records.slice(0, limit),
      } satisfies ApiResponse<'flowTest'>);
    }
    if (!services.dryRunDestination) throw new NotFoundError('feature', 'destination dry run');
    return c.json({
      kind: 'destination',
      ...(await services.dryRunDestination(config, access, limit)),
    } satisfies ApiResponse<'flowTest'>);
  });

  app.get('/:id', async (c) => c.json({ flow: await view(deps, await load(c.req.param('id'))) }));

  app.put('/:id', async (c) => {
    const current = await load(c.req.param('id'));
    const config = await readBody(c, createFlowSchema);
    if (config.kind !== current.kind)
      throw new ValidationError('a flow cannot change from source to destination');
    await check(config);
    await store.updateFlow(current.id, config);
    await scheduler.refresh(current.id);
    // `ashpipe apply` names itself: its own changes are what the file says, nothing to warn about.
    const managedBy = current.config.options.managedBy;
    const warnings =
      typeof managedBy === 'string' && c.req.header(APPLY_HEADER) === undefined
        ? [
            `Flow "${current.name}" is managed by ${managedBy}: the next \`ashpipe apply\` of that file puts back what the file says. Change the file to keep this change.`,
          ]
        : [];
    return c.json({
      flow: await view(deps, await load(current.id)),
      warnings,
    } satisfies ApiResponse<'flowReplaced'>);
  });

  app.delete('/:id', async (c) => {
    const flow = await load(c.req.param('id'));
    const running = await scheduler.activeRunId(flow.id);
    if (running)
      throw new ConflictError(`Flow "${flow.name}" is running (run ${running}).`, 'run_in_progress');
    await store.deleteFlow(flow.id);
    await scheduler.refresh(flow.id);
    await hooks.onDeleted?.(flow.id);
    return c.body(null, 204);
  });

  app.post('/:id/activate', async (c) => {
    const flow = await load(c.req.param('id'));
    await store.setFlowStatus(flow.id, 'active');
    await scheduler.refresh(flow.id);
    return c.json({ flow: await view(deps, await load(flow.id)) });
  });

  app.post('/:id/pause', async (c) => {
    const flow = await load(c.req.param('id'));
    await store.setFlowStatus(flow.id, 'paused');
    await scheduler.refresh(flow.id);
    return c.json({ flow: await view(deps, await load(flow.id)) });
  });

  // Run now; 409 when a run of the flow is going.
  app.post('/:id/run', async (c) => {
    const run = await scheduler.trigger((await load(c.req.param('id'))).id, 'manual');
    return c.json({ run } satisfies ApiResponse<'run'>, 202);
  });

  // The console's Test step: a dry run (destinations validate and map without writing; sources read
  // without storing where the engine supports it).
  app.post('/:id/test', async (c) => {
    const run = await scheduler.trigger((await load(c.req.param('id'))).id, 'test', { dryRun: true });
    return c.json({ run } satisfies ApiResponse<'run'>, 202);
  });

  app.post('/:id/cancel', async (c) => {
    const flow = await load(c.req.param('id'));
    if (!(await scheduler.cancel(flow.id)))
      throw new ConflictError(`Flow "${flow.name}" is not running.`, 'not_running');
    return c.json({ cancelling: true } satisfies ApiResponse<'cancelling'>, 202);
  });

  return app;
}
