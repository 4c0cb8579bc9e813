/**
 * The console on a PostgreSQL control store whose server runs no worker (`serve --no-worker`): a run
 * waiting in the fleet's queue reads `queued`, in the queued badge, on the Overview, in the flows list and
 * on its run page — not `running` — and the run page's Cancel takes it out of the queue.
 */
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/index.js';
import {
  browserSuiteRuns,
  type ConsoleSuite,
  setAdminPassword,
  startConsoleSuite,
} from '../support/browser.js';
import { newControlTarget, removeControlTargets } from '../support/control.js';
import { testPostgresUrl } from '../support/postgres.js';
import { createApiToken, tokenClient } from '../support/server-token.js';

const POSTGRES_URL = testPostgresUrl('the console of queued runs');
const PASSWORD = 'queued runs console password';
const runs = browserSuiteRuns('queued runs console test') && POSTGRES_URL !== undefined;

describe.skipIf(!runs)('the console shows a run waiting for a fleet worker as queued', () => {
  let suite: ConsoleSuite | undefined;
  let server: RunningServer;
  let page: Page;
  let token = '';
  const { api } = tokenClient(() => ({ url: server.url, token }));

  beforeAll(async () => {
    const target = newControlTarget('postgres');
    suite = await startConsoleSuite({
      artifacts: 'queued-console',
      sandbox: { scale: 10 },
      masterKeyByte: 11,
      // No worker anywhere: the run stays in the queue for as long as the test looks at it.
      server: { controlUrl: target.url as string, worker: false },
    });
    ({ server, page } = suite);
  }, 180_000);

  afterAll(async () => {
    await suite?.close();
    await removeControlTargets();
  });

  it('Overview, flows list and run page say queued; Cancel takes the run out of the queue', async () => {
    await setAdminPassword(page, server.url, PASSWORD);
    token = await createApiToken(server.url, PASSWORD);
    const { credential } = await api<{ credential: { id: string } }>('POST', '/credentials', {
      name: 'Sandbox',
      apiKey: 'sandbox-full',
    });
    const { flow } = await api<{ flow: { id: string } }>('POST', '/flows', {
      kind: 'source',
      name: 'Waiting jobs',
      credentialId: credential.id,
      streams: ['jobs'],
      target: { type: 'jsonl', path: path.join(suite!.home, 'data', 'jobs') },
    });
    const { run } = await api<{ run: { id: string; status: string } }>('POST', `/flows/${flow.id}/run`);
    expect(run.status).toBe('queued');

    // The Overview shown after the password was read before the flow existed: the flows list first.
    await page.goto(`${server.url}/#/flows`);
    const listed = page.locator('tr[data-flow="Waiting jobs"]').getByTestId('run-state');
    await listed.waitFor();
    expect(await listed.textContent()).toBe('queued');
    expect(await listed.getAttribute('class')).toBe('badge queued');
    await page.screenshot({ path: path.join(suite!.artifacts, '01-flows-queued.png'), fullPage: true });

    await page.goto(`${server.url}/#/`);
    const home = page.locator('tr[data-home-flow="Waiting jobs"]').getByTestId('flow-state');
    await home.waitFor();
    expect(await home.textContent()).toBe('queued');
    expect(await home.getAttribute('class')).toBe('badge queued');
    await page.screenshot({ path: path.join(suite!.artifacts, '02-overview-queued.png'), fullPage: true });

    await page.goto(`${server.url}/#/flows`);
    await listed.click();
    const status = page.locator('[data-run-status]');
    await status.waitFor();
    expect(await status.textContent()).toBe('queued');
    expect(await status.getAttribute('class')).toBe('badge queued');
    await page.screenshot({ path: path.join(suite!.artifacts, '03-run-queued.png'), fullPage: true });

    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page.locator('[data-run-status="cancelled"]').waitFor();
    const after = await api<{ run: { status: string } }>('GET', `/runs/${run.id}`);
    expect(after.run.status).toBe('cancelled');
    await page.goto(`${server.url}/#/`);
    const idle = page.locator('tr[data-home-flow="Waiting jobs"]').getByTestId('flow-state');
    await page.locator('tr[data-home-flow="Waiting jobs"] a[href^="#/runs/"] .badge.cancelled').waitFor();
    expect(await idle.textContent()).toBe('paused');
    await page.screenshot({ path: path.join(suite!.artifacts, '04-overview-cancelled.png'), fullPage: true });
  }, 60_000);
});
