import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProgress, EndpointCounters, formatSummary, type StreamResult } from '../../src/sync/index.js';

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
  it('prints plain periodic lines off a TTY, with retries', () => {
    vi.useFakeTimers();
    let text = '';
    const counters = new EndpointCounters();
    const p = createProgress({ write: (s: string) => (text += s) }, { intervalMs: 1000, counters });
    p.onEvent({
      type: 'stream-start',
      stream: 'candidates',
      endpoint: 'candidate.list',
      mode: 'full',
      reason: 'first sync',
    });
    p.onEvent({ type: 'page', stream: 'candidates', pages: 2, records: 200 });
    counters.onEvent({ type: 'retry', endpoint: 'candidate.list' });
    vi.advanceTimersByTime(1000);
    expect(text).toContain('sync: candidates full pass (first sync)');
    expect(text).toContain('candidates 200 records/2 pages');
    expect(text).toContain('1 retries');
    p.onEvent({ type: 'stream-end', result: result() });
    p.onEvent({ type: 'warning', stream: 'offers', message: 'skipped' });
    p.stop();
    expect(text).toContain('sync: candidates ok');
    expect(text).toContain('warning: offers: skipped');
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
    expect(text).toContain('offers failed: offer.list: boom (requestId req-1)');
    expect(text).toContain('data in sqlite:./x.db');
  });
});
