/**
 * The sync child of bench/sync.ts, in plain JavaScript so that it runs on the compiled code (what users
 * run) without the TypeScript loader, whose memory would otherwise count in P2.
 *
 * Usage: node bench/sync-child.mjs --dist DIR --url URL --target TARGET [--streams a,b] [--rps N] [--refresh]
 * Prints one JSON line: {records, requests, cpuUs, wallMs, maxRssKb, rateLimited, requestWindowMs, streams}.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dist: { type: 'string' },
    url: { type: 'string' },
    target: { type: 'string' },
    streams: { type: 'string' },
    rps: { type: 'string' },
    refresh: { type: 'boolean', default: false },
  },
});
if (!values.dist || !values.url || !values.target) {
  throw new Error('usage: sync-child.mjs --dist DIR --url URL --target TARGET');
}
const load = (rel) => import(pathToFileURL(path.resolve(values.dist, rel)).href);
const { selectStreams } = await load('streams/index.js');
const { syncToTarget } = await load('sync/index.js');

const streams = selectStreams({ streams: (values.streams ?? 'candidates,applications').split(',') });
const cpu = process.cpuUsage();
const start = performance.now();
let firstRequestAt;
let lastResponseAt = 0;
const summary = await syncToTarget({
  onClientEvent: (event) => {
    if (event.type === 'request') firstRequestAt ??= performance.now();
    else if (event.type === 'response') lastResponseAt = performance.now();
  },
  apiKey: 'sandbox-full',
  baseUrl: values.url,
  target: values.target,
  streams,
  ...(values.rps ? { requestsPerSecond: Number(values.rps) } : {}),
  ...(values.refresh ? { refresh: true } : {}),
});
const used = process.cpuUsage(cpu);
if (summary.exitCode !== 0) {
  throw new Error(`sync failed: ${JSON.stringify(summary.streams.map((s) => s.error))}`);
}
process.stdout.write(
  `${JSON.stringify({
    records: summary.totals.records,
    requests: summary.totals.requests,
    cpuUs: used.user + used.system,
    wallMs: performance.now() - start,
    maxRssKb: process.resourceUsage().maxRSS,
    rateLimited: summary.totals.rateLimited,
    requestWindowMs: lastResponseAt - (firstRequestAt ?? lastResponseAt),
    streams: summary.streams.map((s) => ({
      stream: s.stream,
      pages: s.pages,
      requests: s.requests,
      records: s.records,
      notDue: s.notDue !== undefined,
    })),
  })}\n`,
);
