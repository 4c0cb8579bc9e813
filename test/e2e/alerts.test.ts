import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { Logger } from '../../src/util/logger.js';
import {
  type HttpReceiver,
  type SmtpReceiver,
  startHttpReceiver,
  startSmtpReceiver,
  subjectOf,
} from '../support/alert-receivers.js';
import {
  browserSuiteRuns,
  CHROMIUM,
  ensureConsoleBuilt,
  ROOT,
  setAdminPassword,
} from '../support/browser.js';
import { createApiToken } from '../support/server-token.js';
import { expectedStreamRecords } from '../support/world-oracle.js';

const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'alerts');
const PASSWORD = 'alerts console password';
const KEY = 'alerts-console-sandbox-key';
/** Secrets typed into the console once: never to be seen again in a page. */
const HOOK_TOKEN = 'T0CONSOLE/B0CONSOLE/consolehooktoken93ab';
const SMTP_PASSWORD = 'console-smtp-canary-51f0';
const runs = browserSuiteRuns('alerts console test');

describe.skipIf(!runs)('the Alerts page of the console', () => {
  let sandbox: Sandbox;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let home: string;
  let hook: HttpReceiver;
  let fileHook: HttpReceiver;
  let smtp: SmtpReceiver;
  let token: string;

  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${server.url}/api/v1${route}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
    return (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>;
  };
  /** The page's whole HTML, with what the inputs hold: where a secret would show. */
  const pageText = async () => {
    const values = await page
      .locator('input')
      .evaluateAll((inputs) => inputs.map((i) => (i as unknown as { value: string }).value));
    return `${await page.content()}\n${values.join('\n')}`;
  };

  beforeAll(async () => {
    await ensureConsoleBuilt();
    fs.rmSync(ARTIFACTS, { recursive: true, force: true });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-alerts-console-'));
    sandbox = await startSandbox({
      port: 0,
      scale: 10,
      keys: [{ key: KEY, title: 'All', scopes: [...ALL_SCOPES], confidential: true }],
    });
    hook = await startHttpReceiver();
    fileHook = await startHttpReceiver();
    smtp = await startSmtpReceiver('alerts', SMTP_PASSWORD);
    server = await startServer({
      home,
      env: { ASHPIPE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') },
      port: 0,
      webRoot: path.join(ROOT, 'web', 'dist'),
      logger: new Logger({ level: 'warn', sink: () => {} }),
      serviceOptions: { baseUrl: sandbox.url },
      alertChannels: [{ type: 'webhook', name: 'from-file', url: fileHook.url, format: 'json' }],
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
    page = await (await browser.newContext({ viewport: { width: 1366, height: 900 } })).newPage();
    page.setDefaultTimeout(15_000);
    page.on('dialog', (d) => void d.accept());
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await sandbox?.close();
    await hook?.close();
    await fileHook?.close();
    await smtp?.close();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('adds, tests, edits and deletes channels, and picks them per flow, never showing a secret again', async () => {
    await setAdminPassword(page, server.url, PASSWORD);
    token = await createApiToken(server.url, PASSWORD);
    const { credential } = (await api('POST', '/credentials', { name: 'Sandbox', apiKey: KEY })) as {
      credential: { id: string };
    };
    const { flow } = (await api('POST', '/flows', {
      kind: 'source',
      name: 'Jobs',
      credentialId: credential.id,
      streams: ['jobs'],
      target: { type: 'jsonl', path: path.join(home, 'data', 'jobs') },
    })) as { flow: { id: string } };

    await page.getByRole('link', { name: 'Alerts' }).click();
    await page.getByRole('heading', { name: 'Alerts', level: 1 }).waitFor();
    // The file's channel is listed, read-only: it can be tested, not edited.
    const fileRow = page.locator('tr[data-channel="from-file"]');
    expect(await fileRow.locator('.badge').textContent()).toBe('from file');
    expect(await fileRow.getByRole('button', { name: 'Edit' }).count()).toBe(0);

    // A webhook channel.
    await page.getByRole('button', { name: 'Add a channel' }).click();
    await page.getByLabel('Name *').fill('chat');
    await page.getByLabel('Webhook URL *').fill(`${hook.url}/${HOOK_TOKEN}`);
    await page.getByRole('button', { name: 'Add channel' }).click();
    const chat = page.locator('tr[data-channel="chat"]');
    await chat.waitFor();
    expect(await chat.locator('code').textContent()).toBe(`${new URL(hook.url).origin}/…`);
    await chat.getByRole('button', { name: 'Send test' }).click();
    await page.getByText('Test message delivered to “chat”.').waitFor();
    expect(hook.posts).toEqual([expect.objectContaining({ text: '🔴 Test message from ashpipe to "chat"' })]);

    // Edited without typing the URL again: the stored one is kept.
    await chat.getByRole('button', { name: 'Edit' }).click();
    expect(await page.getByLabel(/Webhook URL/).inputValue()).toBe('');
    await page.getByLabel('Body').selectOption('json');
    await page.getByRole('checkbox', { name: 'Run failed' }).check();
    await page.getByRole('button', { name: 'Save channel' }).click();
    await chat.getByText('webhook (json)').waitFor();
    expect(await chat.locator('td').nth(3).textContent()).toBe('run_failed');
    await chat.getByRole('button', { name: 'Send test' }).click();
    await expect.poll(() => hook.posts.length).toBe(2);
    expect(hook.posts[1]).toMatchObject({ source: 'ashpipe', incident: 'test:chat' });

    // An email channel, with a password; a wrong field is named by the server.
    await page.getByRole('button', { name: 'Add a channel' }).click();
    await page.getByLabel('Email (SMTP)').check();
    await page.getByLabel('Name *').fill('mail');
    await page.getByLabel('Recipients (separated by commas) *').fill('data@example.com, not-an-address');
    await page.getByLabel('Sender address *').fill('ashpipe@example.com');
    await page.getByLabel('SMTP host *').fill('127.0.0.1');
    await page.getByLabel('SMTP port *').fill(String(smtp.port));
    await page.getByLabel('SMTP user').fill('alerts');
    await page.getByLabel(/SMTP password/).fill(SMTP_PASSWORD);
    await page.getByRole('button', { name: 'Add channel' }).click();
    await page.getByRole('alert').getByText('to.1: Invalid email').waitFor();
    await page.getByLabel('Recipients (separated by commas) *').fill('data@example.com');
    await page.getByRole('button', { name: 'Add channel' }).click();
    const mail = page.locator('tr[data-channel="mail"]');
    await mail.waitFor();
    await mail.getByRole('button', { name: 'Send test' }).click();
    await page.getByText('Test message delivered to “mail”.').waitFor();
    expect(smtp.mails.map((m) => subjectOf(m.raw))).toEqual([
      '[ashpipe] Alert: Test message from ashpipe to "mail"',
    ]);

    // Channels per flow: ticking one saves the flow's choice.
    const pick = page.getByRole('checkbox', { name: 'Jobs → chat' });
    await pick.check();
    await page.getByText('Saved the channels of “Jobs”.').waitFor();
    const saved = (await api('GET', `/flows/${flow.id}`)) as {
      flow: { config: { options: { alerts?: { channels?: string[] } } } };
    };
    expect(saved.flow.config.options.alerts?.channels).toEqual(['chat']);
    await page.screenshot({ path: path.join(ARTIFACTS, '01-alert-channels.png'), fullPage: true });

    // Secrets typed once are never in the page again, even in the edit form.
    await mail.getByRole('button', { name: 'Edit' }).click();
    await page.getByText('(stored; leave empty to keep it)').waitFor();
    const html = await pageText();
    expect(html).not.toContain(SMTP_PASSWORD);
    expect(html).not.toContain('consolehooktoken93ab');
    await page.getByRole('button', { name: 'Cancel' }).click();

    await mail.getByRole('button', { name: 'Delete' }).click();
    await mail.waitFor({ state: 'detached' });
    expect(
      ((await api('GET', '/alert-channels')).channels as Array<{ name: string }>).map((c) => c.name),
    ).toEqual(['chat', 'from-file']);
  }, 120_000);
  it('shows the run health of a flow: charts over its last runs, each with its numbers, and freshness per stream', async () => {
    const flows = (await api('GET', '/flows')).flows as Array<{ id: string; name: string }>;
    const flow = flows.find((f) => f.name === 'Jobs');
    if (!flow) throw new Error('no flow');
    /** Runs the flow; resolves with what the sandbox answered meanwhile, counted by the sandbox itself. */
    const runOnce = async () => {
      sandbox.resetStats();
      const { run } = (await api('POST', `/flows/${flow.id}/run`)) as { run: { id: string } };
      for (;;) {
        const { run: now } = (await api('GET', `/runs/${run.id}`)) as { run: { status: string } };
        if (now.status !== 'running') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const stats = sandbox.stats();
      return {
        requests: Object.values(stats.responses).reduce((n, c) => n + c, 0),
        rateLimited: stats.rateLimited,
      };
    };
    const first = await runOnce();
    // The second run meets Ashby's rate limit (the key's one token just spent elsewhere): its 429s are
    // counted and shown.
    sandbox.faults.set({ rateLimit: { rps: 0.5, burst: 1 } });
    const spend = await fetch(`${sandbox.url}/job.list`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: '{}',
    });
    expect(spend.status).toBe(200);
    const second = await runOnce();
    sandbox.faults.reset();
    expect(second.rateLimited).toBeGreaterThan(0);

    await page.goto(`${server.url}/#/flows`);
    await page.locator('tr[data-flow="Jobs"]').getByRole('link', { name: 'Health' }).click();
    await page.getByRole('heading', { name: 'Run health — Jobs' }).waitFor();
    // Every chart drawn, with its table under it.
    for (const id of [
      'health-duration',
      'health-records',
      'health-requests',
      'health-outcomes',
      'health-freshness',
    ])
      expect(await page.getByTestId(id).locator('.recharts-wrapper').count(), id).toBe(1);
    const rows = (label: string) =>
      page
        .getByRole('table', { name: label })
        .locator('tbody tr')
        .evaluateAll((trs) =>
          trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
        );
    const jobs = expectedStreamRecords(sandbox, 'jobs').length;
    const records = await rows('Records numbers');
    expect(records.map((r) => [r[0], r[2]])).toEqual([
      ['#1', String(jobs)],
      // Nothing changed in Ashby between the runs: the incremental one reads nothing.
      ['#2', '0'],
    ]);
    expect((await rows('Requests numbers')).map((r) => [r[0], r[2], r[3]])).toEqual([
      ['#1', String(first.requests), String(first.rateLimited)],
      ['#2', String(second.requests), String(second.rateLimited)],
    ]);
    expect(await rows('Outcome numbers')).toEqual([
      ['succeeded', '2'],
      ['partial', '0'],
      ['failed', '0'],
      ['cancelled', '0'],
    ]);
    const fresh = await rows('Freshness numbers');
    expect(fresh.map((r) => r[0])).toEqual(['jobs']);
    expect(Number(fresh[0]?.[2])).toBeLessThan(0.1);
    await page.screenshot({ path: path.join(ARTIFACTS, '02-run-health.png'), fullPage: true });
  }, 120_000);
});
