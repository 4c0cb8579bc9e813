/**
 * One process of a fleet that syncs a sandbox key into its own SQLite file, its request starts paced by
 * the key's budget in PostgreSQL (or, with `budget: false`, by this process alone). Used by the fleet
 * tests and `bench/fleet.ts`.
 *
 * Usage: node test/fleet/sync-child.mjs '<json options>'
 * Prints `ready`, starts when a line arrives on stdin (so that processes whose start-up took different
 * times start together), then prints one JSON line: {requests, rateLimited, firstRequestAt,
 * lastResponseAt, successAt, exitCode} (epoch ms).
 *
 * Plain JavaScript on the built code (`npm run build`): a fleet starts four of these at once, and each
 * starts in half the time the sources take through tsx.
 */
import pg from 'pg';
import { Limiter } from '../../dist/ashby/limiter.js';
import { fleetKeyId, PostgresRateBudget } from '../../dist/fleet/budget.js';
import { selectStreams } from '../../dist/streams/index.js';
import { syncToTarget } from '../../dist/sync/index.js';

/**
 * @typedef {object} ChildOptions
 * @property {string} url
 * @property {string} apiKey
 * @property {string} target
 * @property {string} postgresUrl
 * @property {string} schema
 * @property {string} secret
 * @property {boolean} budget
 * @property {number} [requestsPerSecond]
 * @property {number} [pageSize]
 * @property {number} [maxConcurrent]
 * @property {string[]} [streams] every stream when absent
 */

/** @type {ChildOptions} */
const options = JSON.parse(process.argv[2] ?? '{}');
const pool = new pg.Pool({ connectionString: options.postgresUrl, max: 3 });
const limiter = new Limiter({
  ...(options.maxConcurrent !== undefined ? { maxConcurrent: options.maxConcurrent } : {}),
  ...(options.requestsPerSecond !== undefined ? { requestsPerSecond: options.requestsPerSecond } : {}),
  ...(options.budget
    ? {
        shared: new PostgresRateBudget({
          pool,
          schema: options.schema,
          keyId: fleetKeyId(options.apiKey, options.secret),
        }),
      }
    : {}),
});
process.stdout.write('ready\n');
await new Promise((resolve) => process.stdin.once('data', () => resolve(undefined)));
process.stdin.pause();
/** @type {number | undefined} */
let firstRequestAt;
/** @type {number[]} */
const successAt = [];
let lastResponseAt = 0;
let requests = 0;
let rateLimited = 0;
try {
  const summary = await syncToTarget({
    apiKey: options.apiKey,
    baseUrl: options.url,
    target: options.target,
    streams: options.streams ? selectStreams({ streams: options.streams }) : selectStreams(),
    limiter,
    pageSize: options.pageSize ?? 100,
    retry: { limit: 20 },
    onClientEvent: (event) => {
      if (event.type === 'request') {
        firstRequestAt ??= Date.now();
        requests++;
      } else if (event.type === 'response') {
        lastResponseAt = Date.now();
        if (event.httpStatus === 429) rateLimited++;
        if (event.success) successAt.push(lastResponseAt);
      }
    },
  });
  process.stdout.write(
    `${JSON.stringify({
      requests,
      rateLimited,
      firstRequestAt,
      lastResponseAt,
      successAt,
      exitCode: summary.exitCode,
      sharedBudgetFailures: limiter.stats().sharedBudgetFailures,
    })}\n`,
  );
} finally {
  await pool.end();
}
