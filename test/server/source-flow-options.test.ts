import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncEngine } from '../../src/server/engines.js';
import { ValidationError } from '../../src/server/errors.js';
import { type Flow, sourceFlowSchema } from '../../src/server/model.js';
import { Logger } from '../../src/util/logger.js';

/**
 * A stand-in for Ashby that answers every list with one empty last page after a pause, and records when
 * each request started and how many were in flight at once: what reaches the client's limiter is seen
 * from outside the process, not read back from the code under test.
 */
function fakeAshby() {
  const starts: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      starts.push(performance.now());
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight -= 1;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ success: true, results: [], moreDataAvailable: false, syncToken: 'tok' }));
      }, 60);
    });
  });
  return {
    server,
    reset() {
      starts.length = 0;
      maxInFlight = 0;
    },
    get starts() {
      return [...starts];
    },
    get maxInFlight() {
      return maxInFlight;
    },
  };
}

const ashby = fakeAshby();
let baseUrl: string;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-flow-options-'));
const STREAMS = ['users', 'departments', 'locations', 'sources', 'archive_reasons', 'close_reasons'];

beforeAll(async () => {
  await new Promise<void>((resolve) => ashby.server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(ashby.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => ashby.server.close(() => resolve()));
  fs.rmSync(dir, { recursive: true, force: true });
});

let runs = 0;
async function runFlow(options: Record<string, unknown>) {
  runs += 1;
  const config = sourceFlowSchema.parse({
    kind: 'source',
    name: `flow ${runs}`,
    credentialId: 'cred',
    streams: STREAMS,
    target: { type: 'sqlite', path: path.join(dir, `run-${runs}.db`) },
    options,
  });
  const flow = { id: `f${runs}`, name: config.name, kind: 'source', config } as Flow;
  ashby.reset();
  return syncEngine(flow, {
    runId: `r${runs}`,
    apiKey: 'flow-options-key',
    baseUrl,
    signal: new AbortController().signal,
    logger: new Logger({ level: 'error', sink: () => {} }),
    dryRun: false,
    progress: () => {},
  });
}

describe("a source flow's request options reach the client, as `ashpipe sync` passes them", () => {
  it('concurrency: 1 keeps one request in flight; 4 lets the streams overlap', async () => {
    const one = await runFlow({ concurrency: 1 });
    expect(one.status).toBe('succeeded');
    expect(ashby.starts).toHaveLength(STREAMS.length);
    expect(ashby.maxInFlight).toBe(1);
    await runFlow({ concurrency: 4 });
    expect(ashby.maxInFlight).toBeGreaterThan(2);
  });

  it('requestsPerSecond spaces the request starts', async () => {
    const outcome = await runFlow({ requestsPerSecond: 5, concurrency: 6 });
    expect(outcome.status).toBe('succeeded');
    const starts = ashby.starts;
    expect(starts).toHaveLength(STREAMS.length);
    // Six starts at most 5 a second take at least a second from the first to the last; without the cap
    // (six in flight allowed) they would all start within the first few milliseconds.
    expect(starts[starts.length - 1]! - starts[0]!).toBeGreaterThan(900);
  });

  it('refuses an unusable value with a 422 naming the option', async () => {
    for (const [name, value] of [
      ['concurrency', 0],
      ['concurrency', 1.5],
      ['requestsPerSecond', 'fast'],
    ] as const) {
      const error = await runFlow({ [name]: value }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).status).toBe(422);
      expect((error as ValidationError).message).toBe(
        `options.${name} must be a positive ${name === 'concurrency' ? 'integer' : 'number'}, got ${JSON.stringify(value)}`,
      );
    }
  });
});
