/**
 * A fleet worker process for the queue tests and `bench/fleet.ts`: takes runs from the queue and executes
 * each as a real sync of the sandbox into `sqlite:<dir>/<flowId>.db`. Stops gracefully on SIGTERM.
 *
 * Usage: ASHPIPE_FLEET_KEYS='{"<keyId>":"<apiKey>"}' node test/fleet/worker-child.mjs '<json>'
 * Appends one JSON line per event to `eventsFile` ({event, flowId, worker, attempt, pages, at}).
 *
 * Plain JavaScript on the built code (`npm run build`): the queue test starts eight of these, and each
 * starts in half the time the sources take through tsx.
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Limiter } from '../../dist/ashby/limiter.js';
import { ensureBudgetTable, PostgresRateBudget } from '../../dist/fleet/budget.js';
import { RunQueue } from '../../dist/fleet/queue.js';
import { selectStreams } from '../../dist/streams/index.js';
import { syncToTarget } from '../../dist/sync/index.js';

/**
 * @typedef {object} WorkerChildOptions
 * @property {string} postgresUrl
 * @property {string} schema
 * @property {string} name
 * @property {number} [concurrency]
 * @property {number} leaseSeconds
 * @property {number} heartbeatSeconds
 * @property {number} pollSeconds
 * @property {number} maintenanceSeconds
 * @property {number} [drainSeconds]
 * @property {string} sandboxUrl
 * @property {string} dir
 * @property {string} eventsFile
 * @property {number} [requestsPerSecond]
 * @property {number} [pageSize]
 * @property {boolean} [budget] Pace each key through its budget row in `schema` (keyed by the job's key id).
 */

/** @type {WorkerChildOptions} */
const options = JSON.parse(process.argv[2] ?? '{}');
/** @type {Record<string, string>} */
const keys = JSON.parse(process.env.ASHPIPE_FLEET_KEYS ?? '{}');
/**
 * @param {string} event
 * @param {{ flowId: string, jobId: string, attempt: number } | undefined} job
 * @param {Record<string, unknown>} [extra]
 */
const record = (event, job, extra = {}) =>
  fs.appendFileSync(
    options.eventsFile,
    `${JSON.stringify({ event, flowId: job?.flowId, jobId: job?.jobId, worker: options.name, attempt: job?.attempt, at: Date.now(), ...extra })}\n`,
  );

const queue = await RunQueue.open({
  connectionString: options.postgresUrl,
  schema: options.schema,
  maintenanceSeconds: options.maintenanceSeconds,
});
const budgetPool = new pg.Pool({ connectionString: options.postgresUrl, max: 2 });
if (options.budget) await ensureBudgetTable(budgetPool, options.schema);
/** @type {Map<string, Limiter>} One limiter per key in this process, as the client's process-wide limiters are. */
const limiters = new Map();
/** @param {string} keyId */
const limiterOf = (keyId) => {
  let limiter = limiters.get(keyId);
  if (!limiter) {
    limiter = new Limiter({
      ...(options.requestsPerSecond !== undefined ? { requestsPerSecond: options.requestsPerSecond } : {}),
      shared: new PostgresRateBudget({ pool: budgetPool, schema: options.schema, keyId }),
    });
    limiters.set(keyId, limiter);
  }
  return limiter;
};
const worker = queue.worker({
  name: options.name,
  concurrency: options.concurrency ?? 1,
  leaseSeconds: options.leaseSeconds,
  heartbeatSeconds: options.heartbeatSeconds,
  pollSeconds: options.pollSeconds,
  ...(options.drainSeconds !== undefined ? { drainSeconds: options.drainSeconds } : {}),
  onEvent: (event) => {
    if (event.type === 'error') record('error', undefined, { error: event.error });
    else if (event.type === 'failed') record(event.type, event.job, { error: event.error });
    else record(event.type, event.job);
  },
  execute: async (job, signal) => {
    const apiKey = keys[job.keyId];
    if (!apiKey) throw new Error(`no key for ${job.keyId}`);
    let pages = 0;
    let requests = 0;
    const summary = await syncToTarget({
      apiKey,
      baseUrl: options.sandboxUrl,
      target: `sqlite:${path.join(options.dir, `${job.flowId}.db`)}`,
      streams: selectStreams({ streams: ['candidates', 'applications'] }),
      pageSize: options.pageSize ?? 50,
      lockLabel: `flow ${job.flowId} (run ${job.jobId})`,
      // The lock of a killed worker on this host is taken over at once (its pid is gone).
      lockWaitMs: 30_000,
      ...(options.budget
        ? { limiter: limiterOf(job.keyId) }
        : options.requestsPerSecond !== undefined
          ? { requestsPerSecond: options.requestsPerSecond }
          : {}),
      signal,
      onClientEvent: (event) => {
        if (event.type === 'request') requests++;
      },
      onEvent: (event) => {
        if (event.type === 'page') {
          pages++;
          record('page', job, { pages });
        }
      },
    });
    record('run-ended', job, { exitCode: summary.exitCode, pages, requests });
    return { exitCode: summary.exitCode, pages, requests };
  },
});
record('ready', undefined);

process.once('SIGTERM', () => {
  record('sigterm', undefined, { active: worker.active });
  void (async () => {
    await worker.stop();
    await queue.close();
    await budgetPool.end();
    record('exited', undefined);
    process.exit(0);
  })();
});
