import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../src/sandbox/index.js';
import type { RunningServer } from '../../src/server/index.js';
import { openSink, type Sink } from '../../src/sinks/index.js';
import { Logger } from '../../src/util/logger.js';
import { call } from '../sandbox/helpers.js';
import {
  browserSuiteRuns,
  type ConsoleSuite,
  ROOT,
  setAdminPassword,
  startConsoleSuite,
} from '../support/browser.js';
import { expectedStreamRecords } from '../support/world-oracle.js';

const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'webhooks');
const PASSWORD = 'webhooks admin password';

type R = Record<string, unknown> & { id: string };

const runs = browserSuiteRuns('webhooks console test');

describe.skipIf(!runs)("a source flow's webhooks in the console", () => {
  let suite: ConsoleSuite | undefined;
  let sandbox: Sandbox;
  let server: RunningServer;
  let page: Page;
  let home: string;
  let flowId: string;
  let target: string;
  let holder: Sink;
  const logLines: string[] = [];
  const pageErrors: string[] = [];
  let step = 0;

  const shot = async (name: string) => {
    step += 1;
    await page.screenshot({
      path: path.join(ARTIFACTS, `${String(step).padStart(2, '0')}-${name}.png`),
      fullPage: true,
    });
  };

  beforeAll(async () => {
    suite = await startConsoleSuite({
      artifacts: 'webhooks',
      sandbox: { scale: 10, seed: 8, webhookRetryBaseMs: 5 },
      masterKeyByte: 5,
      viewport: { width: 1280, height: 900 },
      logger: new Logger({ level: 'debug', sink: (l) => logLines.push(l) }),
      // One attempt before an event is parked: the parked list fills without waiting for backoff.
      server: { webhooks: { applier: { maxAttempts: 1, pollMs: 100 } } },
    });
    ({ sandbox, server, page, home } = suite);
    const credential = await server.deps.services.credentials.add({
      name: 'sandbox',
      apiKey: 'sandbox-full',
    });
    target = path.join(home, 'data', 'hooks');
    flowId = (
      await server.deps.store.createFlow({
        kind: 'source',
        name: 'Live applications',
        credentialId: credential.id,
        schedule: null,
        options: {},
        streams: ['applications'],
        target: { type: 'jsonl', path: target },
      })
    ).id;
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }, 120_000);

  afterAll(async () => {
    await holder?.close();
    await suite?.close();
  });

  it('is reached from the flows list and turned on', async () => {
    await setAdminPassword(page, server.url, PASSWORD);
    await page.goto(`${server.url}/#/flows`);
    await page.locator('tr[data-flow="Live applications"]').getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'Webhooks — Live applications' }).waitFor();
    expect(await page.getByTestId('webhooks-state').textContent()).toBe('Off');
    expect(await page.getByTestId('receiving-url').textContent()).toBe(
      `${server.url}/webhooks/ashby/${flowId}`,
    );
    await shot('off');
    await page.getByRole('button', { name: 'Turn webhooks on' }).click();
    await page.getByRole('status').filter({ hasText: 'Webhooks are on.' }).waitFor();
    expect(await page.getByTestId('webhooks-state').textContent()).toBe('On');
    await page.getByTestId('webhook-stats').waitFor();
  });

  it('registers the webhooks in Ashby and shows the secret once', async () => {
    await page.getByRole('button', { name: 'Register in Ashby' }).click();
    await page.getByRole('status').filter({ hasText: 'Registered 20 webhooks in Ashby.' }).waitFor();
    const secret = (await page.getByTestId('webhook-secret').textContent()) ?? '';
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    const hooks = sandbox.world.allOf('webhook');
    expect(hooks).toHaveLength(20);
    expect(hooks.every((h) => h.secretToken === secret)).toBe(true);
    expect(await page.getByRole('table', { name: 'Registered webhooks' }).locator('tbody tr').count()).toBe(
      20,
    );
    await shot('installed-secret-once');
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await page.reload();
    await page.getByRole('heading', { name: 'Webhooks — Live applications' }).waitFor();
    expect(await page.content()).not.toContain(secret);
    // Ashby's ping for each new webhook reaches the receiver.
    await expect
      .poll(async () => page.getByTestId('last-ping').textContent(), { timeout: 15_000 })
      .not.toBe('never');
    // The secret is no credential.
    await page.goto(`${server.url}/#/credentials`);
    await page.getByRole('article', { name: 'Credential sandbox' }).waitFor();
    expect(await page.getByRole('article').count()).toBe(1);
    expect(await page.content()).not.toContain('webhook-secret');
    expect(logLines.join('\n')).not.toContain(secret);
  });

  it('shows a parked event with its reason and retries it', async () => {
    // A sync holding the stream: the next event fails once and is parked.
    holder = openSink(`jsonl:${target}`);
    await holder.open();
    const lock = await holder.lock('applications', 'test');
    expect(lock.acquired).toBe(true);
    const apps = expectedStreamRecords(sandbox, 'applications') as R[];
    const active = apps.find((a) => a.status === 'Active') as R;
    const stage = active.currentInterviewStage as R;
    const stages = (await call(sandbox, 'interviewStage.list', { interviewPlanId: stage.interviewPlanId }))
      .body.results as R[];
    const next = stages.find((s) => s.type === 'Active' && s.id !== stage.id) as R;
    expect(
      (
        await call(sandbox, 'application.changeStage', {
          applicationId: active.id,
          interviewStageId: next.id,
        })
      ).body.success,
    ).toBe(true);
    await page.goto(`${server.url}/#/flows/${flowId}/webhooks`);
    const parked = page.getByRole('table', { name: 'Parked events' });
    await parked.waitFor({ timeout: 20_000 });
    const rows = parked.locator('tbody tr');
    expect(await rows.count()).toBeGreaterThanOrEqual(1);
    expect(await parked.textContent()).toContain('stream applications is being written by another run');
    await shot('parked');
    if (lock.acquired) await lock.lock.release();
    while ((await rows.count()) > 0) {
      await rows.first().getByRole('button', { name: 'Retry' }).click();
      await page.getByRole('status').filter({ hasText: 'is queued again' }).waitFor();
    }
    await page.getByText('None: every event was applied').waitFor();
    await expect
      .poll(async () => (await holder.readRows('applications')).length, { timeout: 15_000 })
      .toBe(1);
    const row = JSON.parse(String((await holder.readRows('applications'))[0]?._ashpipe_raw));
    const world = (expectedStreamRecords(sandbox, 'applications') as R[]).find((a) => a.id === active.id);
    expect(row).toEqual(world);
    await expect
      .poll(async () => page.getByTestId('webhook-stats').textContent(), { timeout: 15_000 })
      .toMatch(/parked 0/);
    await shot('retried');
  });

  it('deletes the webhooks in Ashby and turns webhooks off', async () => {
    await page.getByRole('button', { name: 'Delete the webhooks in Ashby' }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted 20 webhooks in Ashby.' }).waitFor();
    expect(sandbox.world.allOf('webhook')).toEqual([]);
    await page.getByRole('button', { name: 'Turn webhooks off' }).click();
    await page.getByRole('status').filter({ hasText: 'Webhooks are off' }).waitFor();
    expect(await page.getByTestId('webhooks-state').textContent()).toBe('Off');
    await shot('off-again');
    expect(pageErrors).toEqual([]);
  });
});
