/**
 * The freshness promise of a flow (`options.alerts.freshnessMinutes`) as the running server keeps it: the
 * scheduler's own timer asks alerting to check every minute, and the clock is moved with fake timers.
 *
 * `startServer` gives no way to set the scheduler's clock (`SchedulerOptions.now`) or the check's period
 * (`FRESHNESS_CHECK_MS`), so the test fakes `Date`, `setInterval` and `clearInterval` before the server
 * starts: the scheduler's timer is then a fake one, and `new Date()` (the scheduler's default clock, and
 * the clock the runs are recorded with) reads the fake time. `shouldAdvanceTime` lets the fake clock follow
 * real time too, so the sandbox, the runs and the HTTP clients work as usual (the Ashby client's limiter
 * paces with `Date.now()`). The clock is only ever moved in whole minutes, so the scheduler's checks fall
 * at the same second of each minute and none fires by itself while the test waits for a run: the whole
 * file takes a few seconds of real time, far less than the check's minute.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { channelConfigSchema } from '../../src/alerts/index.js';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import { type Sandbox, type SandboxKey, startSandbox } from '../../src/sandbox/index.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import type { Flow } from '../../src/server/model.js';
import { FRESHNESS_CHECK_MS } from '../../src/server/scheduler.js';
import { Logger } from '../../src/util/logger.js';
import { type HttpReceiver, startHttpReceiver } from '../support/alert-receivers.js';
import { createApiToken, runAndSettle, tokenClient } from '../support/server-token.js';

const PASSWORD = 'freshness clock server password';
const KEY: SandboxKey = {
  key: 'freshness-clock-key',
  title: 'Freshness',
  scopes: [...ALL_SCOPES],
  confidential: true,
};
const MINUTE = 60_000;
const PROMISE_MINUTES = 30;

describe('the freshness promise, checked by the scheduler against the clock', () => {
  let sandbox: Sandbox;
  let server: RunningServer;
  let hook: HttpReceiver;
  let home: string;
  let token: string;

  const { api } = tokenClient(() => ({ url: server.url, token }));
  /** Moves the clock by whole minutes (the scheduler's timer fires on the way) and waits for the alerts. */
  const advanceMinutes = async (minutes: number) => {
    await vi.advanceTimersByTimeAsync(minutes * MINUTE);
    await server.deps.alerting?.idle();
  };
  const freshnessPosts = () => hook.posts.filter((p) => p.event === 'freshness_broken');

  beforeAll(async () => {
    // Before the server starts, so the scheduler's timer is a fake one.
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'], shouldAdvanceTime: true });
    sandbox = await startSandbox({ scale: 10, keys: [KEY] });
    hook = await startHttpReceiver();
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-freshness-clock-'));
    server = await startServer({
      home,
      env: { ASHPIPE_ADMIN_PASSWORD: PASSWORD },
      port: 0,
      logger: new Logger({ level: 'error', sink: () => {} }),
      serviceOptions: { baseUrl: sandbox.url },
      // Every event: the receiver shows that nothing but the freshness incident is sent.
      alertChannels: [channelConfigSchema.parse({ type: 'webhook', name: 'ops-hook', url: hook.url })],
    });
    token = await createApiToken(server.url, PASSWORD);
  }, 60_000);

  afterAll(async () => {
    vi.restoreAllMocks();
    await server?.close();
    await sandbox?.close();
    await hook?.close();
    vi.useRealTimers();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('alerts once when the promise is broken, not again while it stays broken, and recovers after a good run', async () => {
    expect(FRESHNESS_CHECK_MS).toBe(MINUTE);
    const alerting = server.deps.alerting;
    if (!alerting) throw new Error('the server has no alerting');
    const checks = vi.spyOn(alerting, 'checkFreshness');
    const { credential } = await api<{ credential: { id: string } }>('POST', '/credentials', {
      name: 'sandbox',
      apiKey: KEY.key,
    });
    const { flow } = await api<{ flow: Flow }>('POST', '/flows?activate=true', {
      kind: 'source',
      name: 'Promised hourly',
      credentialId: credential.id,
      // Once a year: no scheduled run comes between the clock's jumps.
      schedule: '0 0 1 1 *',
      streams: ['jobs'],
      target: { type: 'jsonl', path: path.join(home, 'data', 'out') },
      options: { alerts: { freshnessMinutes: PROMISE_MINUTES } },
    });
    const first = await runAndSettle(api, server, flow.id);
    expect(first.status).toBe('succeeded');
    expect(hook.posts).toEqual([]);

    // Two minutes short of the promise: the scheduler checked every minute, and the data is fresh enough.
    await advanceMinutes(PROMISE_MINUTES - 2);
    expect(checks).toHaveBeenCalledTimes(PROMISE_MINUTES - 2);
    const times = checks.mock.calls.map(([now]) => now.getTime());
    expect(times.slice(1).map((t, i) => t - (times[i] as number))).toEqual(
      Array(PROMISE_MINUTES - 3).fill(MINUTE),
    );
    expect(hook.posts).toEqual([]);

    // Past the promise: one message opens the incident.
    await advanceMinutes(4);
    expect(hook.posts).toHaveLength(1);
    const broken = hook.posts[0] as Record<string, unknown> & { details: { ageSeconds: number } };
    expect(broken).toMatchObject({
      source: 'ashpipe',
      event: 'freshness_broken',
      state: 'open',
      incident: `freshness_broken:${flow.id}`,
      title: 'Data of flow "Promised hourly" is older than promised',
      flow: { id: flow.id, name: 'Promised hourly' },
      details: { promiseSeconds: PROMISE_MINUTES * 60 },
    });
    expect(broken.details.ageSeconds).toBeGreaterThan(PROMISE_MINUTES * 60);
    expect(broken.details.ageSeconds).toBeLessThanOrEqual((PROMISE_MINUTES + 1) * 60);
    expect(broken.text).toContain(`Last good run: ${first.finishedAt}.`);

    // An hour more of checks, all finding the promise broken: the open incident is not told again, and a
    // broken promise does not pause the flow.
    await advanceMinutes(60);
    expect(checks).toHaveBeenCalledTimes(PROMISE_MINUTES + 62);
    expect(hook.posts).toHaveLength(1);
    expect((await api<{ flow: Flow }>('GET', `/flows/${flow.id}`)).flow.status).toBe('active');

    // A good run brings the data back within the promise. The run itself does not end the incident (its
    // alerts are about runs); the next minute's check does, once.
    const second = await runAndSettle(api, server, flow.id);
    expect(second.status).toBe('succeeded');
    expect(hook.posts).toHaveLength(1);
    await advanceMinutes(1);
    expect(freshnessPosts().map((p) => [p.state, p.incident])).toEqual([
      ['open', `freshness_broken:${flow.id}`],
      ['recovered', `freshness_broken:${flow.id}`],
    ]);
    expect(hook.posts[1]).toMatchObject({
      event: 'freshness_broken',
      state: 'recovered',
      title: 'Data of flow "Promised hourly" is fresh again',
      flow: { id: flow.id, name: 'Promised hourly' },
      details: { promiseSeconds: PROMISE_MINUTES * 60 },
    });

    // Fresh from now on: later checks send nothing, and nothing but freshness was ever sent.
    await advanceMinutes(10);
    expect(hook.posts).toHaveLength(2);
    expect(hook.posts).toEqual(freshnessPosts());
  }, 60_000);

  it('closes a broken promise that is no longer checked (flow paused, promise removed, flow deleted), so a promise set again opens a new incident', async () => {
    const { credential } = await api<{ credential: { id: string } }>('POST', '/credentials', {
      name: 'sandbox again',
      apiKey: KEY.key,
    });
    const config = {
      kind: 'source',
      name: 'Withdrawn',
      credentialId: credential.id,
      schedule: '0 0 1 1 *',
      streams: ['jobs'],
      target: { type: 'jsonl', path: path.join(home, 'data', 'withdrawn') },
      options: { alerts: { freshnessMinutes: PROMISE_MINUTES } },
    };
    const { flow } = await api<{ flow: Flow }>('POST', '/flows?activate=true', config);
    expect((await runAndSettle(api, server, flow.id)).status).toBe('succeeded');
    const told = () =>
      hook.posts
        .filter((p) => p.incident === `freshness_broken:${flow.id}`)
        .map((p) => [p.state, (p.details as { reason?: string }).reason ?? null]);
    const withdrawn = (why: string) => ({
      event: 'freshness_broken',
      state: 'recovered',
      title: 'Flow "Withdrawn" is no longer held to its freshness promise',
      text: `Flow "Withdrawn" ${why}: its freshness is no longer checked, and the broken promise is closed.`,
      flow: { id: flow.id, name: 'Withdrawn' },
    });

    await advanceMinutes(PROMISE_MINUTES + 2);
    expect(told()).toEqual([['open', null]]);
    // Paused: the promise is no longer checked, and its incident is closed once, saying why.
    await api('POST', `/flows/${flow.id}/pause`);
    await advanceMinutes(1);
    expect(told()).toEqual([
      ['open', null],
      ['recovered', 'paused'],
    ]);
    expect(hook.posts.at(-1)).toMatchObject(withdrawn('was paused'));
    await advanceMinutes(5);
    expect(told()).toHaveLength(2);
    // Active again with stale data: a new incident, told again.
    await api('POST', `/flows/${flow.id}/activate`);
    await advanceMinutes(1);
    expect(told()).toHaveLength(3);
    expect(told()[2]).toEqual(['open', null]);
    // The promise removed from the flow: closed.
    await api('PUT', `/flows/${flow.id}`, { ...config, options: {} });
    await advanceMinutes(1);
    expect(told()[3]).toEqual(['recovered', 'promise removed']);
    expect(hook.posts.at(-1)).toMatchObject(withdrawn('no longer has a freshness promise'));
    // Set again, broken again (a new incident), then the flow deleted: closed, named as it was.
    await api('PUT', `/flows/${flow.id}`, config);
    await advanceMinutes(1);
    expect(told()[4]).toEqual(['open', null]);
    await api('DELETE', `/flows/${flow.id}`);
    await advanceMinutes(1);
    expect(told()).toEqual([
      ['open', null],
      ['recovered', 'paused'],
      ['open', null],
      ['recovered', 'promise removed'],
      ['open', null],
      ['recovered', 'deleted'],
    ]);
    expect(hook.posts.at(-1)).toMatchObject(withdrawn('was deleted'));
    await advanceMinutes(5);
    expect(told()).toHaveLength(6);
  }, 60_000);
});
