import { afterAll, describe, expect, it } from 'vitest';
import { formatSummary } from '../../src/cli/render/summary.js';
import { openSink } from '../../src/sinks/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { runSync } from '../../src/sync/index.js';
import { Logger } from '../../src/util/logger.js';
import { FakeSource } from './fake-source.js';
import { DIALECTS, liveRecords, makeTarget, type TestTarget } from './helpers.js';

const targets: TestTarget[] = [];
afterAll(async () => {
  for (const t of targets) await t.cleanup();
});

for (const dialect of DIALECTS) {
  describe(`records without a usable primary key (${dialect})`, () => {
    it('are counted per stream with their reason and logged whole, and the stream goes on', async () => {
      const t = await makeTarget(dialect);
      targets.push(t);
      const source = new FakeSource(3);
      const good = [
        { id: 'c1', name: 'Ada' },
        { id: 'c2', name: 'Grace' },
        { id: 'c3', name: 'Edsger' },
        { id: 'c4', name: 'Barbara' },
      ];
      // Mixed into the pages: no id, a numeric id, an id that is an object.
      const bad = [
        { name: 'Nobody', email: 'nobody@example.com' },
        { id: 17, name: 'Numbered' },
        { id: { uuid: 'x' }, name: 'Nested' },
      ];
      source.set('candidate.list', [good[0], bad[0], good[1], good[2], bad[1], bad[2], good[3]] as never);
      source.set('user.list', [{ id: 'u1', firstName: 'Una' }]);
      const lines: string[] = [];
      const logger = new Logger({ level: 'info', sink: (line) => lines.push(line) });
      const sink = openSink(t.target);
      await sink.open();
      try {
        const summary = await runSync({
          client: source,
          sink,
          streams: selectStreams({ streams: ['candidates', 'users'] }),
          logger,
        });
        const candidates = summary.streams.find((s) => s.stream === 'candidates');
        expect(candidates).toMatchObject({ status: 'ok', records: 4, inserted: 4, rejected: 3 });
        expect(candidates?.rejects).toEqual([
          { reason: 'no id', count: 1 },
          { reason: 'id is a number, not a string', count: 1 },
          { reason: 'id is an object, not a string', count: 1 },
        ]);
        expect(summary.streams.find((s) => s.stream === 'users')).toMatchObject({
          status: 'ok',
          rejected: 0,
        });
        // Nothing lost silently: the run is a partial success and says why.
        expect(summary.exitCode).toBe(3);
        expect(summary.totals.rejected).toBe(3);
        expect(formatSummary(summary)).toContain('candidates: 3 (no id: 1, id is a number, not a string: 1');
        expect(await liveRecords(sink, 'candidates')).toEqual(good);

        const logged = lines
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .filter((l) => l.msg === 'record rejected');
        expect(logged.map((l) => [l.stream, l.reason, l.record])).toEqual([
          ['candidates', 'no id', bad[0]],
          ['candidates', 'id is a number, not a string', bad[1]],
          ['candidates', 'id is an object, not a string', bad[2]],
        ]);

        // A full pass after a rejected record deletes nothing it should keep.
        const again = await runSync({
          client: source,
          sink,
          streams: selectStreams({ streams: ['candidates'] }),
          fullRefresh: true,
        });
        expect(again.streams[0]).toMatchObject({ status: 'ok', deleted: 0, rejected: 3 });
        expect(await liveRecords(sink, 'candidates')).toEqual(good);
      } finally {
        await sink.close();
      }
    });
  });
}
