import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Inbox, inboxFor } from '../../src/webhooks/index.js';
import { DIALECTS, makeTarget, type TestTarget } from '../sync/helpers.js';

describe.each(DIALECTS.filter((d) => d !== 'jsonl'))(
  'the inbox storing deliveries together on %s',
  (dialect) => {
    let t: TestTarget;
    let inbox: Inbox;
    beforeAll(async () => {
      t = await makeTarget(dialect);
      inbox = inboxFor(t.target);
      await inbox.open();
    });
    afterAll(async () => {
      await inbox?.close();
      await t?.cleanup();
    });

    it('stores 1,200 concurrent deliveries, each id once, and says which were new', async () => {
      const at = '2026-03-01T00:00:00.000Z';
      // 400 ids, each delivered three times at once (a retry and a fan-out arriving together).
      const ids = Array.from({ length: 1200 }, (_, i) => `evt-${i % 400}`);
      const stored = await Promise.all(
        ids.map((actionId) =>
          inbox.add({ actionId, action: 'applicationUpdate', body: '{}', receivedAt: at, status: 'pending' }),
        ),
      );
      expect(stored.filter(Boolean)).toHaveLength(400);
      // The first delivery of each id is the one stored.
      expect(stored.slice(0, 400).every(Boolean)).toBe(true);
      const listed = await inbox.list('pending', 10_000);
      expect(listed.map((e) => e.actionId).sort()).toEqual([...new Set(ids)].sort());
      // Stored again later: nothing new.
      expect(
        await inbox.add({
          actionId: 'evt-7',
          action: 'applicationUpdate',
          body: '{}',
          receivedAt: at,
          status: 'pending',
        }),
      ).toBe(false);
    });
  },
);
