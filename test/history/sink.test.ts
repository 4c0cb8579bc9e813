/**
 * The sinks' history hooks on hand-written records (SQLite and PostgreSQL): the start of a version when
 * `updatedAt` does not move or is absent, a record back after a deletion, a field first seen later, and
 * no history table at all while history is off.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openSink, type Sink, type StreamShape } from '../../src/sinks/index.js';
import { makeTarget, POSTGRES_URL, type TestTarget } from '../sync/helpers.js';
import { readHistory, tableExists } from './support.js';

const DIALECTS: Array<'sqlite' | 'postgres'> = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];
const shape: StreamShape = { name: 'jobs', primaryKey: ['id'] };
const on = { history: true } as const;

describe.each(DIALECTS)('history hooks of the %s sink', (dialect) => {
  const targets: TestTarget[] = [];
  afterAll(async () => {
    for (const t of targets) await t.cleanup();
  });
  async function withTarget(fn: (sink: Sink, target: string) => Promise<void>): Promise<void> {
    const t = await makeTarget(dialect);
    targets.push(t);
    const sink = openSink(t.target);
    await sink.open();
    try {
      await fn(sink, t.target);
    } finally {
      await sink.close();
    }
  }
  const between = (iso: string | null | undefined, from: number, to: number) => {
    const t = Date.parse(String(iso));
    return t >= from && t <= to;
  };

  it('an edit without a new updatedAt, and a record without one, start when observed', async () => {
    await withTarget(async (sink, target) => {
      await sink.upsertPage(
        shape,
        [
          { id: 'j1', title: 'Engineer', updatedAt: '2026-01-01T00:00:00.000Z' },
          { id: 'j2', title: 'Designer' },
        ],
        on,
      );
      const before = Date.now();
      await sink.upsertPage(
        shape,
        [
          { id: 'j1', title: 'Senior Engineer', updatedAt: '2026-01-01T00:00:00.000Z' },
          { id: 'j2', title: 'Lead Designer' },
        ],
        on,
      );
      const after = Date.now();
      const h = await readHistory(target, 'jobs');
      const j1 = h.get('j1') ?? [];
      expect(j1.map((v) => v.raw.title)).toEqual(['Engineer', 'Senior Engineer']);
      expect(j1[0]?.validFrom).toBe('2026-01-01T00:00:00.000Z');
      expect(between(j1[1]?.validFrom, before, after)).toBe(true);
      expect(j1[0]?.validTo).toBe(j1[1]?.validFrom);
      const j2 = h.get('j2') ?? [];
      expect(j2.map((v) => v.raw.title)).toEqual(['Designer', 'Lead Designer']);
      expect(between(j2[1]?.validFrom, before, after)).toBe(true);
      expect(Date.parse(String(j2[0]?.validFrom))).toBeLessThanOrEqual(before);
    });
  });

  it('a record deleted and back: the deletion closes a version, the return opens a new one', async () => {
    await withTarget(async (sink, target) => {
      const rec = { id: 'j1', title: 'Engineer', updatedAt: '2026-01-01T00:00:00.000Z' };
      await sink.upsertPage(shape, [rec], on);
      const t0 = Date.now();
      expect(await sink.markDeleted(shape, ['j1'])).toBe(1);
      const t1 = Date.now();
      // The same record again: same JSON, same updatedAt.
      await sink.upsertPage(shape, [rec], on);
      const t2 = Date.now();
      const versions = (await readHistory(target, 'jobs')).get('j1') ?? [];
      expect(versions.map((v) => [v.isCurrent, v.deleted, v.raw.title])).toEqual([
        [false, true, 'Engineer'],
        [true, false, 'Engineer'],
      ]);
      expect(between(versions[0]?.validTo, t0, t1)).toBe(true);
      expect(between(versions[1]?.validFrom, t1, t2)).toBe(true);
      expect(versions[1]?.validTo).toBeNull();
    });
  });

  it('turned on again after a record came back while off: its new version starts after the deletion', async () => {
    await withTarget(async (sink, target) => {
      const rec = { id: 'j1', title: 'Engineer', updatedAt: '2026-01-01T00:00:00.000Z' };
      await sink.upsertPage(shape, [rec], on);
      expect(await sink.markDeleted(shape, ['j1'])).toBe(1);
      // Off: the record comes back; on again with a page of another record.
      await sink.upsertPage(shape, [rec], {});
      await sink.upsertPage(shape, [{ id: 'j2', title: 'Designer' }], on);
      const versions = (await readHistory(target, 'jobs')).get('j1') ?? [];
      expect(versions.map((v) => [v.isCurrent, v.deleted])).toEqual([
        [false, true],
        [true, false],
      ]);
      expect(Date.parse(String(versions[1]?.validFrom))).toBeGreaterThanOrEqual(
        Date.parse(String(versions[0]?.validTo)),
      );
    });
  });

  it('a field first seen later becomes a column of the history table too; older versions hold NULL', async () => {
    await withTarget(async (sink, target) => {
      await sink.upsertPage(shape, [{ id: 'j1', title: 'A', updatedAt: '2026-01-01T00:00:00.000Z' }], on);
      await sink.upsertPage(
        shape,
        [{ id: 'j1', title: 'A', employmentType: 'FullTime', updatedAt: '2026-01-02T00:00:00.000Z' }],
        on,
      );
      const versions = (await readHistory(target, 'jobs')).get('j1') ?? [];
      expect(versions.map((v) => [v.columns.title, v.columns.employment_type])).toEqual([
        ['A', null],
        ['A', 'FullTime'],
      ]);
    });
  });

  it('with history off nothing is written beside the table', async () => {
    await withTarget(async (sink, target) => {
      await sink.upsertPage(shape, [{ id: 'j1', title: 'A' }], {});
      await sink.upsertPage(shape, [{ id: 'j1', title: 'B' }], {}, { keepState: true });
      expect(await sink.markDeleted(shape, ['j1'])).toBe(1);
      expect(await tableExists(target, 'jobs_history')).toBe(false);
    });
  });
});
