import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { Logger } from '../../src/util/logger.js';
import {
  browserSuiteRuns,
  CHROMIUM,
  ensureConsoleBuilt,
  ROOT,
  setAdminPassword,
} from '../support/browser.js';
import { runCli } from '../support/cli.js';
import { createApiToken } from '../support/server-token.js';

const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'managed-flows');
const PASSWORD = 'managed flows password';
const runs = browserSuiteRuns('managed flows console test');

describe.skipIf(!runs)('flows managed by a flows file, in the console', () => {
  let sandbox: Sandbox;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let home: string;

  beforeAll(async () => {
    await ensureConsoleBuilt();
    fs.rmSync(ARTIFACTS, { recursive: true, force: true });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-managed-'));
    sandbox = await startSandbox({ port: 0, scale: 20 });
    server = await startServer({
      home,
      env: { ASHPIPE_MASTER_KEY: Buffer.alloc(32, 5).toString('base64') },
      port: 0,
      webRoot: path.join(ROOT, 'web', 'dist'),
      logger: new Logger({ level: 'warn', sink: () => {} }),
      serviceOptions: { baseUrl: sandbox.url },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
    page = await (await browser.newContext({ viewport: { width: 1366, height: 768 } })).newPage();
    page.setDefaultTimeout(15_000);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await sandbox?.close();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('marks the flows a file manages in the list and warns before an edit', async () => {
    await setAdminPassword(page, server.url, PASSWORD);
    const token = await createApiToken(server.url, PASSWORD);
    const file = path.join(home, 'team-flows.yaml');
    fs.writeFileSync(
      file,
      `version: 1
credentials:
  - { name: Sandbox, apiKeyEnv: SANDBOX_KEY }
flows:
  - name: Jobs to JSONL
    kind: source
    credential: Sandbox
    schedule: "0 3 * * *"
    streams: [jobs]
    target: { type: jsonl, path: ${JSON.stringify(path.join(home, 'data', 'jobs'))} }
`,
    );
    const applied = await runCli(['apply', '-f', file], {
      ASHPIPE_SERVER: server.url,
      ASHPIPE_API_TOKEN: token,
      SANDBOX_KEY: 'sandbox-full',
    });
    expect(applied.code, applied.err).toBe(0);

    await page.goto(`${server.url}/#/flows`);
    const row = page.locator('tr[data-flow="Jobs to JSONL"]');
    await row.waitFor();
    expect(await row.locator('.badge').textContent()).toBe('from team-flows.yaml');
    await page.screenshot({ path: path.join(ARTIFACTS, '01-flows-list.png'), fullPage: true });
    await row.getByRole('link', { name: 'Edit' }).click();
    const note = page.getByTestId('managed-by');
    await note.waitFor();
    expect(await note.textContent()).toBe(
      'This flow is managed by team-flows.yaml: the next ashpipe apply of that file puts back what the file says. Change the file to keep a change.',
    );
    await page.screenshot({ path: path.join(ARTIFACTS, '02-edit-managed.png'), fullPage: true });
  });
});
