import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { safeStringify } from '../../util/redact.js';
import type { ApiResponse } from '../api-schema.js';
import type { AppEnv } from '../auth.js';
import { paging, type ServerDeps } from '../context.js';
import { NotFoundError } from '../errors.js';
import type { RunEvent } from '../scheduler.js';

/** Keeps idle event streams open through proxies that close silent connections. */
const HEARTBEAT_MS = 15_000;
/** How often the record of a run that is not in this process is read again for changes. */
const REMOTE_POLL_MS = 1_000;

/** A run that has not ended: queued for a worker, or running. */
const isOpen = (run: { status: string }) => run.status === 'queued' || run.status === 'running';

/** `/api/v1/runs`: run history with per-stream or per-operation counts; live progress as server-sent events. */
export function runRoutes(deps: ServerDeps): Hono<AppEnv> {
  const { store, scheduler } = deps;
  const app = new Hono<AppEnv>();

  app.get('/', async (c) => {
    const page = paging(c, { limit: 50, max: 500 });
    const flowId = c.req.query('flowId');
    return c.json({
      runs: await store.listRuns({ ...page, ...(flowId ? { flowId } : {}) }),
      ...page,
    } satisfies ApiResponse<'runs'>);
  });

  app.get('/:id', async (c) => {
    const run = await store.getRun(c.req.param('id'));
    if (!run) throw new NotFoundError('run', c.req.param('id'));
    return c.json({ run } satisfies ApiResponse<'run'>);
  });

  /**
   * `event: progress` with the run (counts so far) while it goes, then one `event: finished` with the final
   * run, then the stream ends. A finished run sends `finished` at once.
   */
  app.get('/:id/events', async (c) => {
    const id = c.req.param('id');
    const first = await store.getRun(id);
    if (!first) throw new NotFoundError('run', id);
    return streamSSE(c, async (stream) => {
      const queue: RunEvent[] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = scheduler.subscribe(id, (event) => {
        queue.push(event);
        wake?.();
      });
      stream.onAbort(() => {
        unsubscribe();
        wake?.();
      });
      try {
        // Subscribed before re-reading, so an end between the two reads is not lost.
        const current = (await store.getRun(id)) ?? first;
        if (!isOpen(current)) {
          await stream.writeSSE({ event: 'finished', data: safeStringify(current) });
          return;
        }
        await stream.writeSSE({ event: 'progress', data: safeStringify(current) });
        let sent = safeStringify(current);
        let quiet = 0;
        while (!stream.aborted) {
          const event = queue.shift();
          if (!event) {
            // A run queued for the fleet or going on a worker sends no events here: its record is read.
            const remote = !scheduler.isLocal(id);
            await new Promise<void>((resolve) => {
              wake = resolve;
              setTimeout(resolve, remote ? REMOTE_POLL_MS : HEARTBEAT_MS).unref();
            });
            wake = undefined;
            if (queue.length > 0 || stream.aborted) continue;
            if (remote) {
              const now = await store.getRun(id);
              if (now && safeStringify(now) !== sent) {
                queue.push(isOpen(now) ? { type: 'progress', run: now } : { type: 'finished', run: now });
                sent = safeStringify(now);
                quiet = 0;
                continue;
              }
              quiet += REMOTE_POLL_MS;
              if (quiet < HEARTBEAT_MS) continue;
              quiet = 0;
            }
            await stream.write(': heartbeat\n\n');
            continue;
          }
          await stream.writeSSE({ event: event.type, data: safeStringify(event.run) });
          if (event.type === 'finished') return;
        }
      } finally {
        unsubscribe();
      }
    });
  });

  return app;
}
