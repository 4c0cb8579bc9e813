import path from 'node:path';
import { AshbyClient } from '../ashby/client.js';
import { openSink } from '../sinks/index.js';
import { selectStreams } from '../streams/index.js';
import { EndpointCounters } from '../sync/counters.js';
import { runSync } from '../sync/engine.js';
import type { StreamResult, SyncEvent } from '../sync/types.js';
import type { RunCount, Target } from './model.js';
import type { FlowEngine, RunOutcome } from './services.js';

/** The sink target string of a source flow's target (the same strings `ashpipe sync --target` takes). */
export function targetString(target: Target): string {
  if (target.type === 'sqlite') return `sqlite:${path.resolve(target.path)}`;
  if (target.type === 'jsonl') return `jsonl:${path.resolve(target.path)}`;
  if (!target.schema) return target.url;
  const url = new URL(target.url);
  url.searchParams.set('schema', target.schema);
  return url.toString();
}

function countOf(r: StreamResult): RunCount {
  const status = r.status === 'ok' ? 'succeeded' : r.status === 'aborted' ? 'failed' : r.status;
  return {
    name: r.stream,
    status,
    read: r.records,
    written: r.inserted + r.updated + r.undeleted,
    deleted: r.deleted,
    ...(r.error ? { message: r.error.message } : {}),
  };
}

/** Source flows run the CLI's sync engine: same client, sinks, checkpoints and summary. */
export const syncEngine: FlowEngine = async (flow, ctx) => {
  if (flow.config.kind !== 'source') throw new Error('not a source flow');
  const config = flow.config;
  const streams = selectStreams(config.streams.length > 0 ? { streams: config.streams } : {});
  const counts = new Map<string, RunCount>(
    streams.map((s) => [s.name, { name: s.name, status: 'pending', read: 0, written: 0 }]),
  );
  const report = () => ctx.progress({ counts: [...counts.values()] });
  const counters = new EndpointCounters();
  const client = new AshbyClient({ apiKey: ctx.apiKey, baseUrl: ctx.baseUrl, onEvent: counters.onEvent });
  const sink = openSink(targetString(config.target), { logger: ctx.logger });
  await sink.open();
  let summary: Awaited<ReturnType<typeof runSync>>;
  try {
    summary = await runSync({
      client,
      sink,
      streams,
      counters,
      signal: ctx.signal,
      logger: ctx.logger,
      ...(config.options.fullRefresh === true ? { fullRefresh: true } : {}),
      ...(config.options.excludeConfidential === true ? { excludeConfidential: true } : {}),
      ...(config.options.includeArchived === false ? { includeArchived: false } : {}),
      onEvent: (event: SyncEvent) => {
        if (event.type === 'stream-start') {
          counts.set(event.stream, { name: event.stream, status: 'running', read: 0, written: 0 });
        } else if (event.type === 'page') {
          const c = counts.get(event.stream) ?? {
            name: event.stream,
            status: 'running',
            read: 0,
            written: 0,
          };
          counts.set(event.stream, { ...c, read: event.records });
        } else if (event.type === 'stream-end') {
          counts.set(event.result.stream, countOf(event.result));
        } else {
          return;
        }
        report();
      },
    });
  } finally {
    await sink.close();
  }
  const outcome: RunOutcome = {
    status: summary.exitCode === 0 ? 'succeeded' : summary.exitCode === 3 ? 'partial' : 'failed',
    counts: summary.streams.map(countOf),
    errors: [
      ...(summary.fatal ? [{ code: summary.fatal.code ?? 'fatal', message: summary.fatal.message }] : []),
      ...summary.streams
        .filter((s) => s.error)
        .map((s) => ({
          scope: s.stream,
          code: s.error?.code ?? s.status,
          message: s.error?.message ?? s.status,
        })),
    ],
  };
  return outcome;
};
