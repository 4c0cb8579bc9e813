import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatSummary } from '../../src/cli/render/summary.js';
import { createSyncProgress } from '../../src/cli/render/sync-progress.js';
import { EndpointCounters, type StreamResult, type SyncSummary } from '../../src/sync/index.js';

const result = (over: Partial<StreamResult> = {}): StreamResult => ({
  stream: 'candidates',
  endpoint: 'candidate.list',
  status: 'ok',
  mode: 'full',
  reason: 'first sync',
  pages: 3,
  records: 250,
  inserted: 250,
  updated: 0,
  unchanged: 0,
  undeleted: 0,
  deleted: 0,
  droppedConfidential: 0,
  newColumns: [],
  requests: 3,
  retries: 0,
  rateLimited: 0,
  durationMs: 1200,
  ...over,
});

afterEach(() => vi.useRealTimers());

describe('sync progress and summary', () => {
  it('off a TTY: a periodic line with totals and the running streams, a line per failed stream, warnings', () => {
    vi.useFakeTimers();
    let text = '';
    const counters = new EndpointCounters();
    const p = createSyncProgress({ write: (s: string) => (text += s) }, { intervalMs: 1000, counters });
    p.onEvent({
      type: 'stream-start',
      stream: 'candidates',
      endpoint: 'candidate.list',
      mode: 'full',
      reason: 'first sync',
    });
    p.onEvent({ type: 'page', stream: 'candidates', pages: 2, records: 200 });
    counters.onEvent({ type: 'request', endpoint: 'candidate.list' });
    counters.onEvent({ type: 'retry', endpoint: 'candidate.list' });
    vi.advanceTimersByTime(1000);
    expect(text).toContain('0/1 streams done · 200 read · 1 request · 1 retry');
    expect(text).toContain('running candidates 200 read/2 pages');
    p.onEvent({ type: 'stream-end', result: result() });
    p.onEvent({
      type: 'stream-end',
      result: result({
        stream: 'offers',
        status: 'failed',
        error: { code: 'internal_server_error', message: 'offer.list: boom' },
      }),
    });
    p.onEvent({ type: 'warning', stream: 'jobs', message: 'skipped' });
    p.stop();
    // A stream that completed is not announced: the summary lists it once.
    expect(text).not.toContain('sync: candidates ok');
    expect(text).toContain('sync: offers failed: offer.list: boom');
    expect(text).toContain('warning: jobs: skipped');
  });

  it('summarises per stream, announces new columns and names problems with their requestId', () => {
    const text = formatSummary({
      target: 'sqlite:./x.db',
      startedAt: '',
      finishedAt: '',
      durationMs: 1500,
      exitCode: 3,
      streams: [
        result({ newColumns: ['fraud_status'] }),
        result({
          stream: 'offers',
          endpoint: 'offer.list',
          status: 'failed',
          error: { code: 'internal_server_error', message: 'offer.list: boom', requestId: 'req-1' },
        }),
      ],
      totals: {
        records: 500,
        inserted: 500,
        updated: 0,
        deleted: 0,
        requests: 6,
        retries: 0,
        rateLimited: 0,
      },
    });
    expect(text).toMatch(/candidates\s+ok\s+full\s+250/);
    expect(text).toContain('candidates: fraud_status');
    expect(text).toContain('offers failed: boom (requestId req-1)');
    expect(text).toContain('data in sqlite:./x.db');
  });

  const summaryOf = (streams: StreamResult[], extra: Partial<SyncSummary> = {}): SyncSummary => ({
    target: 'sqlite:./x.db',
    startedAt: '',
    finishedAt: '',
    durationMs: 1500,
    exitCode: 3,
    streams,
    totals: { records: 0, inserted: 0, updated: 0, deleted: 0, requests: 1, retries: 1, rateLimited: 0 },
    ...extra,
  });

  it('one cause shared by many streams is one problem line', () => {
    const down = (stream: string, endpoint: string) =>
      result({
        stream,
        endpoint,
        status: 'failed',
        records: 0,
        error: {
          code: 'connection_refused',
          message: `${endpoint}: could not connect to Ashby (ECONNREFUSED); the request was not sent`,
        },
      });
    const text = formatSummary(
      summaryOf([down('users', 'user.list'), down('jobs', 'job.list'), down('offers', 'offer.list')]),
    );
    // Broken between words to fit 100 columns, continued two spaces further in.
    expect(text).toContain(
      '  3 streams failed (users, jobs, offers): could not connect to Ashby (ECONNREFUSED); the request was\n    not sent',
    );
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    expect(text.match(/ECONNREFUSED/g)).toHaveLength(1);
    expect(text).toContain('; 1 request, 1 retry, 0 rate-limited;');
  });

  it('a stopped run lists only what it committed, and says why it stopped once', () => {
    const stopped = (stream: string) => result({ stream, status: 'aborted', pages: 0, records: 0 });
    const text = formatSummary(
      summaryOf([result({ pages: 2 }), stopped('jobs'), stopped('offers')], {
        exitCode: 1,
        fatal: { message: 'user.list: Ashby refused the API key' },
      }),
    );
    expect(text).not.toMatch(/^jobs\s/m);
    expect(text).toMatch(/^candidates\s+ok/m);
    expect(text).toContain('Stopped (2 streams not finished): user.list: Ashby refused the API key');
  });

  it('changedOnly counts the streams that read nothing new in one line', () => {
    const quiet = (stream: string) => result({ stream, records: 0, inserted: 0 });
    const text = formatSummary(summaryOf([result(), quiet('jobs'), quiet('offers')]), { changedOnly: true });
    expect(text).toMatch(/^candidates\s+ok/m);
    expect(text).not.toMatch(/^jobs\s/m);
    expect(text).toContain('2 other streams read with no change.');
  });
});
