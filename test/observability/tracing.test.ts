import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SpanKind, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AshbyClient } from '../../src/ashby/client.js';
import { openControl } from '../../src/control/open.js';
import { otlpRequested, registerProvider, startTracing } from '../../src/observability/tracing.js';
import { runPush } from '../../src/push/engine.js';
import { findOperation } from '../../src/push/operations/index.js';
import type { Operation } from '../../src/push/types.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { syncToTarget } from '../../src/sync/run.js';
import { runCli } from '../support/cli.js';

const KEY = 'sandbox-full';
/** The list endpoint each stream reads, written by hand from the stream files. */
const ENDPOINT_OF: Record<string, string> = { candidates: 'candidate.list', sources: 'source.list' };

let sandbox: Sandbox;
let dir: string;
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, scale: 250 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-traces-'));
  await registerProvider(provider);
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  await sandbox.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('traces', () => {
  it('one trace per run: a span per stream under it, a span per request under its stream', async () => {
    exporter.reset();
    sandbox.resetStats();
    // One page of sources is refused (not retryable): its span carries Ashby's code and requestId.
    sandbox.faults.set({
      failEndpoints: { 'source.list': { status: 200, code: 'invalid_input', times: 1 } },
    });
    // What the sandbox answered, read apart from the client: the endpoint, whether the envelope said
    // success, and any request id it gave (in the body, or in a header named like one).
    const answered: Array<{ endpoint: string; success: boolean; requestId?: string }> = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = async (input, init) => {
      const res = await realFetch(input, init);
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.origin !== new URL(sandbox.url).origin) return res;
      const body = JSON.parse(await res.clone().text()) as {
        success?: boolean;
        requestId?: string;
        errorInfo?: { requestId?: string };
      };
      const header = [...res.headers.keys()].find((h) => /request.?id/i.test(h));
      const requestId = body.errorInfo?.requestId ?? body.requestId ?? (header && res.headers.get(header));
      answered.push({
        endpoint: url.pathname.slice(1),
        success: body.success === true,
        ...(requestId ? { requestId } : {}),
      });
      return res;
    };
    let summary: Awaited<ReturnType<typeof syncToTarget>>;
    try {
      summary = await syncToTarget({
        apiKey: KEY,
        baseUrl: sandbox.url,
        target: `sqlite:${path.join(dir, 'traced.db')}`,
        streams: selectStreams({ streams: ['candidates', 'sources'] }),
        traceAttributes: { 'ashpipe.run_id': 'run-traced' },
      });
    } finally {
      globalThis.fetch = realFetch;
      sandbox.faults.reset();
    }
    const spans = exporter.getFinishedSpans();
    const roots = spans.filter((s) => parentOf(s) === undefined);
    expect(roots.map((s) => s.name)).toEqual(['ashpipe sync']);
    const root = roots[0] as ReadableSpan;
    expect(root.attributes['ashpipe.run_id']).toBe('run-traced');
    expect(spans.every((s) => s.spanContext().traceId === root.spanContext().traceId)).toBe(true);

    const streams = spans.filter((s) => s.name.startsWith('stream '));
    expect(streams.map((s) => s.attributes['ashpipe.stream']).sort()).toEqual(['candidates', 'sources']);
    expect(streams.every((s) => parentOf(s) === root.spanContext().spanId)).toBe(true);

    // Every request the sandbox answered is one span, under the stream that made it.
    const requests = spans.filter((s) => s.kind === SpanKind.CLIENT);
    const seen = sandbox.stats().requests;
    const byEndpoint: Record<string, number> = {};
    for (const r of requests) {
      const endpoint = String(r.attributes['ashby.endpoint']);
      byEndpoint[endpoint] = (byEndpoint[endpoint] ?? 0) + 1;
      const stream = streams.find((s) => s.spanContext().spanId === parentOf(r));
      expect(stream, `parent of ${r.name}`).toBeDefined();
      expect(ENDPOINT_OF[String(stream?.attributes['ashpipe.stream'])]).toBe(endpoint);
      expect(r.name).toBe(`ashby ${endpoint}`);
    }
    expect(byEndpoint).toEqual(seen);
    expect(seen['candidate.list']).toBeGreaterThan(1);

    const refused = requests.filter((r) => r.attributes['ashby.error_code'] === 'invalid_input');
    expect(refused).toHaveLength(1);
    const error = summary.streams.find((s) => s.stream === 'sources')?.error;
    expect(error?.requestId).toBeTruthy();
    expect(refused[0]?.attributes['ashby.request_id']).toBe(error?.requestId);
    expect(requests.filter((r) => r.attributes['http.response.status_code'] === 200).length).toBe(
      requests.length,
    );

    // One answer per span (no retries here); each span says its endpoint, and carries a request id exactly
    // when its answer gave one. Only the refusal did: the sandbox's success envelope has none, as Ashby's
    // (`{success, results, moreDataAvailable, nextCursor, syncToken}`: requestId is in errorInfo only,
    // shared/ashby-reference/API-NOTES.md §3), and no request id header either.
    expect(answered).toHaveLength(requests.length);
    const succeeded = requests.filter((r) => r.attributes['ashby.error_code'] === undefined);
    expect(succeeded).toHaveLength(requests.length - 1);
    expect(answered.filter((a) => a.success)).toHaveLength(succeeded.length);
    for (const r of succeeded) {
      expect(r.attributes['ashby.endpoint'], r.name).toBe(r.name.replace(/^ashby /, ''));
      expect(r.attributes['http.response.status_code'], r.name).toBe(200);
    }
    expect(answered.filter((a) => a.success && a.requestId !== undefined)).toEqual([]);
    const answeredIds = answered.flatMap((a) => (a.requestId ? [a.requestId] : []));
    expect(answeredIds).toEqual([error?.requestId]);
    const spanIds = requests.flatMap((r) => {
      const id = r.attributes['ashby.request_id'];
      return id === undefined ? [] : [id];
    });
    expect(spanIds).toEqual(answeredIds);
    // The key is in no attribute.
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain(KEY);
  }, 60_000);

  it('a push run is one trace: a span per request to Ashby under it', async () => {
    exporter.reset();
    sandbox.resetStats();
    const control = await openControl({ home: path.join(dir, 'push-home') });
    try {
      const records = [
        { name: 'Ada Traced', email: 'ada.traced@example.com' },
        { name: 'Bo Traced', email: 'bo.traced@example.com' },
      ];
      const summary = await runPush({
        client: new AshbyClient({ apiKey: KEY, baseUrl: sandbox.url }),
        control,
        operation: findOperation('candidate.create') as Operation,
        rows: records.map((record, i) => ({ row: i + 1, record, raw: record })),
        reconcileDelayMs: 0,
      });
      expect(summary.counts.created).toBe(2);
    } finally {
      await control.close();
    }
    const spans = exporter.getFinishedSpans();
    const roots = spans.filter((s) => parentOf(s) === undefined);
    expect(roots.map((s) => s.name)).toEqual(['ashpipe push']);
    const root = roots[0] as ReadableSpan;
    expect(root.attributes['ashpipe.operation']).toBe('candidate.create');
    const requests = spans.filter((s) => s.kind === SpanKind.CLIENT);
    expect(requests.every((r) => parentOf(r) === root.spanContext().spanId)).toBe(true);
    const byEndpoint: Record<string, number> = {};
    for (const r of requests) {
      const endpoint = String(r.attributes['ashby.endpoint']);
      byEndpoint[endpoint] = (byEndpoint[endpoint] ?? 0) + 1;
    }
    expect(byEndpoint).toEqual(sandbox.stats().requests);
    expect(byEndpoint['candidate.create']).toBe(2);
  }, 60_000);

  it('`ashpipe sync` sends its spans over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    // A collector of our own: it keeps what is posted to /v1/traces.
    const posts: Array<{ path: string; type: string; body: string }> = [];
    const collector = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        posts.push({
          path: req.url ?? '',
          type: String(req.headers['content-type']),
          body: Buffer.concat(chunks).toString('utf8'),
        });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const port = (collector.address() as AddressInfo).port;
    try {
      const r = await runCli(
        [
          'sync',
          '--base-url',
          sandbox.url,
          '--to',
          `sqlite:${path.join(dir, 'otlp.db')}`,
          '--streams',
          'sources',
        ],
        {
          ASHBY_API_KEY: KEY,
          ASHPIPE_HOME: path.join(dir, 'otlp-home'),
          ASHPIPE_MASTER_KEY: Buffer.alloc(32, 4).toString('base64'),
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        },
      );
      expect(r.code).toBe(0);
      expect(posts.length).toBeGreaterThan(0);
      expect(posts.every((p) => p.path === '/v1/traces')).toBe(true);
      const body = posts.map((p) => p.body).join('\n');
      for (const name of ['ashpipe sync', 'stream sources', 'ashby source.list'])
        expect(body).toContain(name);
      expect(body).not.toContain(KEY);
    } finally {
      await new Promise((r) => collector.close(r));
      // The CLI's provider is gone; the in-memory one serves the other tests.
      await registerProvider(provider);
    }
  }, 60_000);

  it('exports nothing and loads no SDK unless OTEL_EXPORTER_OTLP_ENDPOINT is set', async () => {
    expect(otlpRequested({})).toBe(false);
    expect(otlpRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' })).toBe(false);
    expect(otlpRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
    expect(await startTracing({})).toBeUndefined();
  });
});
