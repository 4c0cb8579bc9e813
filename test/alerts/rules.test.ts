import { expect, it } from 'vitest';
import {
  checkFreshness,
  type Decision,
  decideAfterRun,
  describeSeconds,
  type FinishedRun,
  MemoryIncidentStore,
  Notifier,
} from '../../src/alerts/index.js';

const POLICY = { autoPauseAfter: 3, quarantineThreshold: 10 };
const run = (patch: Partial<FinishedRun>): FinishedRun => ({
  flow: { id: 'f1', name: 'Nightly' },
  credential: { id: 'c1', name: 'Prod' },
  status: 'succeeded',
  finishedAt: '2026-12-01T00:00:00.000Z',
  authFailed: false,
  quarantined: 0,
  newColumns: [],
  ...patch,
});
const summary = (ds: Decision[]) =>
  ds.map((d) => (d.type === 'pause' ? `pause ${d.flowId}` : `${d.type} ${d.message.incident}`));

it('decides per run: failures, the pause at the threshold, the key, quarantine, new columns', () => {
  expect(summary(decideAfterRun(run({ status: 'failed', error: 'boom' }), 1, POLICY))).toEqual([
    'raise run_failed:f1',
  ]);
  expect(summary(decideAfterRun(run({ status: 'failed', error: 'boom' }), 3, POLICY))).toEqual([
    'raise run_failed:f1',
    'pause f1',
    'raise flow_auto_paused:f1',
  ]);
  expect(summary(decideAfterRun(run({ status: 'failed', authFailed: true }), 1, POLICY))).toEqual([
    'raise run_failed:f1',
    'raise credential_failing:c1',
  ]);
  // A partial run with 10 records quarantined (the threshold) and two new columns, reported sorted.
  const partial = decideAfterRun(
    run({ status: 'partial', quarantined: 10, newColumns: ['candidates.pronouns', 'candidates.alt_email'] }),
    0,
    POLICY,
  );
  expect(summary(partial)).toEqual([
    'resolve run_failed:f1',
    'resolve flow_auto_paused:f1',
    'resolve credential_failing:c1',
    'raise records_quarantined:f1',
    'raise schema_changed:f1:candidates.alt_email,candidates.pronouns',
  ]);
  expect(summary(decideAfterRun(run({ quarantined: 9 }), 0, POLICY))).toContain(
    'resolve records_quarantined:f1',
  );
  expect(decideAfterRun(run({ status: 'cancelled' }), 0, POLICY)).toEqual([]);
  expect(summary(decideAfterRun(run({ status: 'failed' }), 7, { ...POLICY, autoPauseAfter: 0 }))).toEqual([
    'raise run_failed:f1',
  ]);
  expect(summary(decideAfterRun(run({ parkedEvents: 4 }), 0, POLICY))).toContain(
    'raise webhook_events_parked:f1',
  );
});

it('checks freshness promises against a clock: broken past the promise, kept within it', async () => {
  const fact = {
    flow: { id: 'f1', name: 'Nightly' },
    promiseSeconds: 2 * 3600,
    lastGoodAt: '2026-12-01T10:00:00.000Z',
    since: '2026-11-01T00:00:00.000Z',
  };
  const at = (iso: string) => checkFreshness([fact], new Date(iso))[0];
  expect(at('2026-12-01T12:00:00.000Z')?.type).toBe('resolve');
  const broken = at('2026-12-01T12:00:01.000Z');
  expect(broken?.type).toBe('raise');
  expect(broken?.type === 'raise' && broken.message.text).toBe(
    'The data of flow "Nightly" is 2 h old; the promise is at most 2 h. Last good run: 2026-12-01T10:00:00.000Z.',
  );
  const never = checkFreshness([{ ...fact, lastGoodAt: null }], new Date('2026-11-01T03:30:00.000Z'))[0];
  expect(never?.type === 'raise' && never.message.text).toBe(
    'The data of flow "Nightly" is 3 h 30 min old; the promise is at most 2 h. No run has finished yet.',
  );
  // Checked every minute for three hours past the promise, then kept: one alert, one recovery.
  const sent: string[] = [];
  const notifier = new Notifier(
    [{ name: 'log', wants: () => true, deliver: async (m) => void sent.push(`${m.state} ${m.incident}`) }],
    new MemoryIncidentStore(),
  );
  for (let minute = 0; minute <= 180; minute++) {
    const now = new Date(Date.parse('2026-12-01T12:00:00.000Z') + minute * 60_000);
    for (const d of checkFreshness([fact], now))
      if (d.type === 'raise') await notifier.raise(d.message);
      else if (d.type === 'resolve') await notifier.resolve(d.message);
  }
  for (const d of checkFreshness(
    [{ ...fact, lastGoodAt: '2026-12-01T15:00:00.000Z' }],
    new Date('2026-12-01T15:01:00.000Z'),
  ))
    if (d.type === 'resolve') await notifier.resolve(d.message);
  expect(sent).toEqual(['open freshness_broken:f1', 'recovered freshness_broken:f1']);
  expect([describeSeconds(45), describeSeconds(90_061)]).toEqual(['45 s', '1 d 1 h 1 min']);
});
