/**
 * One process of a fleet that syncs a sandbox key into its own SQLite file, its request starts paced by
 * the key's budget in PostgreSQL (or, with `budget: false`, by this process alone). Used by the fleet
 * tests and `bench/fleet.ts`.
 *
 * Usage: node --import tsx test/fleet/sync-child.ts '<json options>'
 * Prints `ready`, starts when a line arrives on stdin (so that processes whose start-up took different
 * times start together), then prints one JSON line: {requests, rateLimited, firstRequestAt,
 * lastResponseAt, successAt, exitCode} (epoch ms).
 */
import pg from 'pg';
import { Limiter } from '../../src/ashby/limiter.js';
import { fleetKeyId, PostgresRateBudget } from '../../src/fleet/budget.js';
import { selectStreams } from '../../src/streams/index.js';
import { syncToTarget } from '../../src/sync/index.js';

interface ChildOptions {
  url: string;
  apiKey: string;
  target: string;
  postgresUrl: string;
  schema: string;
  secret: string;
  budget: boolean;
  requestsPerSecond?: number;
  pageSize?: number;
  maxConcurrent?: number;
  /** @default every stream */
  streams?: string[];
}

const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;
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
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
process.stdin.pause();
let firstRequestAt: number | undefined;
const successAt: number[] = [];
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
