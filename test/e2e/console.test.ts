import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import type { RunningServer } from '../../src/server/index.js';
import { STREAMS, selectStreams } from '../../src/streams/index.js';
import { Logger } from '../../src/util/logger.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { browserSuiteRuns, type ConsoleSuite, ROOT, startConsoleSuite } from '../support/browser.js';
import { expectedStreamRecords } from '../support/world-oracle.js';

const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'console');
const CANARY = 'canary-e2e-5d1f0c9b7a3e';
const READ_ONLY_KEY = 'canary-e2e-readonly-7c2d';
const PASSWORD = 'e2e admin password';

const runs = browserSuiteRuns('console end-to-end tests');

describe.skipIf(!runs)('console in a browser', () => {
  let suite: ConsoleSuite | undefined;
  let sandbox: Sandbox;
  let server: RunningServer;
  let page: Page;
  let home: string;
  const logLines: string[] = [];
  const consoleErrors: string[] = [];
  const bodies: string[] = [];
  let step = 0;

  /** Whether the page fits the window's width (no horizontal scroll). */
  const fitsWidth = () =>
    page.evaluate<boolean>('document.documentElement.scrollWidth <= document.documentElement.clientWidth');

  const shot = async (name: string) => {
    step += 1;
    await page.screenshot({
      path: path.join(ARTIFACTS, `${String(step).padStart(2, '0')}-${name}.png`),
      fullPage: true,
    });
  };

  beforeAll(async () => {
    suite = await startConsoleSuite({
      artifacts: 'console',
      sandbox: {
        scale: 60,
        keys: [
          { key: CANARY, title: 'e2e', scopes: ALL_SCOPES, confidential: true },
          {
            key: READ_ONLY_KEY,
            title: 'e2e read-only',
            scopes: ALL_SCOPES.filter((s) => s.endsWith('Read')),
            confidential: false,
          },
        ],
      },
      masterKeyByte: 3,
      viewport: { width: 1280, height: 900 },
      logger: new Logger({ level: 'debug', sink: (l) => logLines.push(l) }),
      chromiumArgs: ['--disable-component-update', '--disable-sync'],
    });
    ({ sandbox, server, page, home } = suite);
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    page.on('response', async (r) => {
      const type = r.headers()['content-type'] ?? '';
      if (type.includes('json') || type.includes('html') || type.includes('event-stream')) {
        bodies.push(await r.text().catch(() => ''));
      }
    });
  }, 120_000);

  afterAll(async () => {
    await suite?.close();
  });

  it('sets the admin password on first run', async () => {
    await page.goto(server.url);
    await page.getByLabel('New admin password').fill(PASSWORD);
    await shot('setup');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    // A newcomer is led from the sandbox to a first flow, with this console's default server named.
    const steps = (await page.getByTestId('first-steps').textContent()) ?? '';
    expect(steps).toContain('npx ashpipe sandbox');
    expect(steps).toContain(`checked against ${sandbox.url}`);
    await shot('home-empty');
    await page.getByRole('link', { name: 'Add a credential' }).click();
    await page.getByRole('heading', { name: 'Credentials' }).waitFor();
  });

  it('adds a credential through the overlay and shows its tile with the permission map', async () => {
    await page.getByRole('button', { name: 'Add Credential' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add New Credential' });
    await dialog.waitFor();
    await expect(page.evaluate('document.activeElement && document.activeElement.id')).resolves.toBe(
      'cred-name',
    );
    await dialog.getByLabel('Credential Name *').fill('e2e-sandbox');
    await dialog.getByLabel('Credential Description').fill('the e2e sandbox key');
    await dialog.getByLabel('API Key *').fill(CANARY);
    expect(await dialog.getByLabel('API Key *').getAttribute('type')).toBe('password');
    // The server started against the sandbox offers it as the default, in plain sight (not "Advanced").
    await expect(dialog.getByLabel('Ashby server').inputValue()).resolves.toBe(sandbox.url);
    await shot('add-credential');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.getByRole('status').waitFor();
    await expect(dialog.getByRole('table').textContent()).resolves.toContain('Candidates');
    await shot('credential-saved');
    await dialog.getByRole('button', { name: 'Done' }).click();
    const tile = page.getByRole('article', { name: 'Credential e2e-sandbox' });
    await tile.waitFor();
    const text = (await tile.textContent()) ?? '';
    expect(text).toContain('Valid');
    expect(text).toContain(`••••${CANARY.slice(-4)}`);
    expect(text).toContain(sandbox.url);
    expect(text).not.toContain('Read-only');
    expect(await tile.getByRole('table').locator('tbody tr').count()).toBeGreaterThan(3);
    await shot('credential-tile');
  });

  it('closes the overlay with Escape', async () => {
    await page.getByRole('button', { name: 'Add Credential' }).click();
    await page.getByRole('dialog').waitFor();
    await page.keyboard.press('Escape');
    await expect(page.getByRole('dialog').count()).resolves.toBe(0);
  });

  const addCredential = async (name: string, key: string, serverUrl?: string) => {
    await page.getByRole('button', { name: 'Add Credential' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add New Credential' });
    await dialog.waitFor();
    await dialog.getByLabel('Credential Name *').fill(name);
    await dialog.getByLabel('API Key *').fill(key);
    if (serverUrl !== undefined) await dialog.getByLabel('Ashby server').fill(serverUrl);
    const started = Date.now();
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.getByRole('alert').or(dialog.getByRole('status')).waitFor({ timeout: 15_000 });
    return { dialog, seconds: (Date.now() - started) / 1000 };
  };
  const savedNames = async () => (await server.deps.services.credentials.list()).map((c) => c.name);

  it('a server that is not there: the form says so within seconds, naming it, and saves only when asked', async () => {
    const closed = await new Promise<string>((resolve) => {
      const probe = net.createServer();
      probe.listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(`http://127.0.0.1:${port}`));
      });
    });
    const { dialog, seconds } = await addCredential('unreachable', CANARY, closed);
    expect(seconds).toBeLessThan(10);
    const message = (await dialog.getByRole('alert').textContent()) ?? '';
    expect(message).toContain(`Could not check the key at ${closed}`);
    expect(message).toContain('Nothing was saved');
    expect(await savedNames()).not.toContain('unreachable');
    await shot('credential-unreachable');
    await dialog.getByRole('button', { name: 'Save without verifying' }).click();
    await dialog.getByRole('status').waitFor();
    await dialog.getByRole('button', { name: 'Done' }).click();
    const tile = page.getByRole('article', { name: 'Credential unreachable' });
    const text = (await tile.textContent()) ?? '';
    expect(text).toContain(closed);
    expect(text).toContain('Could not verify');
    expect(await tile.getByTestId('last-error').textContent()).toMatch(/^Could not check the key: .+\.$/);
    expect(await savedNames()).toContain('unreachable');
    await shot('credential-unverified-tile');
  });

  it('a wrong key is refused in one sentence naming the server, and nothing is saved', async () => {
    const { dialog } = await addCredential('wrong', 'wrong-key-e2e-0000');
    expect(await dialog.getByRole('alert').textContent()).toBe(
      `The server at ${sandbox.url} rejected this API key (wrong, deactivated or missing); nothing was saved.`,
    );
    await expect(dialog.getByRole('button', { name: 'Save without verifying' }).count()).resolves.toBe(0);
    expect(await savedNames()).not.toContain('wrong');
    await shot('credential-wrong-key');
    await page.keyboard.press('Escape');
  });

  it('a key without any write permission is shown as read-only', async () => {
    const { dialog } = await addCredential('read only', READ_ONLY_KEY);
    await expect(dialog.getByRole('note').textContent()).resolves.toContain('Read-only key');
    await dialog.getByRole('button', { name: 'Done' }).click();
    const tile = page.getByRole('article', { name: 'Credential read only' });
    await expect(tile.locator('.badge.readonly').textContent()).resolves.toBe('Read-only');
    await shot('credentials');
  });

  it('creates a source flow from the Authenticate screen, runs it and shows per-stream counts', async () => {
    const db = path.join(home, 'data', 'e2e.db');
    await page.goto(`${server.url}/#/flows/new`);
    await page.getByRole('button', { name: /Ashby source/ }).click();
    await page.getByRole('heading', { name: 'Authenticate' }).waitFor();
    await shot('authenticate');
    await page.locator('button[data-credential="e2e-sandbox"]').click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Flow name *').fill('E2E candidates');
    await page.getByLabel('Target SQLite file *').fill(db);
    // Every stream the CLI syncs by default is chosen at first.
    const byDefault = selectStreams().length;
    await page
      .getByTestId('streams-chosen')
      .filter({ hasText: new RegExp(`^${byDefault} of ${STREAMS.length} selected$`) })
      .waitFor({ timeout: 10_000 });
    await page.getByLabel('Search streams').fill('interview');
    const shown = await page.locator('tr[data-stream-choice]').count();
    expect(shown).toBe(STREAMS.filter((s) => s.name.includes('interview')).length);
    // What each stream costs: a list pages by 100; a child list is read once per parent row.
    const cost = (stream: string) =>
      page.locator(`tr[data-stream-choice="${stream}"]`).getByTestId('stream-cost').textContent();
    await expect(cost('interview_stages')).resolves.toMatch(/^one request (per 100 records )?for each /);
    await page.getByRole('button', { name: 'Select none shown' }).click();
    await page.getByLabel('Search streams').fill('');
    await page.getByRole('button', { name: 'Select none' }).click();
    await expect(cost('candidates')).resolves.toBe('one request per 100 records');
    await page.getByLabel('candidates', { exact: true }).check();
    await page.getByLabel('jobs', { exact: true }).check();
    await expect(page.getByTestId('streams-chosen').textContent()).resolves.toBe(
      `2 of ${STREAMS.length} selected`,
    );
    await page.getByLabel('Install analytics views').check();
    await page.getByText(/^After each run, create or replace the analytics_\* views/).waitFor();
    await page.getByLabel('Keep history of').fill('candidates');
    await shot('configure-source');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Stream', { exact: true }).selectOption('candidates');
    await page.getByRole('button', { name: 'Fetch sample records' }).click();
    const sample = page.getByRole('table', { name: 'Sample of candidates' });
    await sample.waitFor();
    expect(await sample.locator('tbody tr').count()).toBe(5);
    expect(await sample.locator('thead th').allTextContents()).toContain('id');
    await page.getByLabel('Stream', { exact: true }).selectOption('jobs');
    await page.getByRole('table', { name: 'Sample of jobs' }).waitFor();
    await shot('sample');
    // Back, and the step list, keep what was filled in.
    await page.getByRole('button', { name: 'Back' }).click();
    await expect(page.getByLabel('Flow name *').inputValue()).resolves.toBe('E2E candidates');
    await page.getByRole('button', { name: /Test$/ }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Save and activate' }).click();
    const row = page.locator('tr[data-flow="E2E candidates"]');
    await row.waitFor();
    await shot('flows');
    const saved = (await server.deps.store.listFlows()).find((f) => f.name === 'E2E candidates');
    expect(saved?.config.options.analytics).toBe(true);
    expect(saved?.config.options.history).toEqual(['candidates']);
    await row.getByRole('button', { name: 'Run now' }).click();
    await page
      .locator('[data-run-status="succeeded"], [data-run-status="partial"], [data-run-status="failed"]')
      .waitFor({ timeout: 60_000 });
    await shot('run-finished');
    expect(await page.locator('[data-run-status]').getAttribute('data-run-status')).toBe('succeeded');
    const read = Number(await page.locator('tr[data-stream="candidates"] td').nth(2).textContent());
    // Every candidate the sandbox's world holds (computed from it directly, not through its API).
    expect(read).toBe(expectedStreamRecords(sandbox, 'candidates').length);
    // History mode: one version per candidate after the first run.
    const versions = openSqlite(db, { readonly: true });
    try {
      const n = versions.prepare('SELECT count(*) AS n FROM candidates_history').get() as { n: number };
      expect(n.n).toBe(read);
    } finally {
      versions.close();
    }
  });

  it('the run page is titled by the flow, lists its run history, and the overview shows the flow', async () => {
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('E2E candidates');
    const history = page.getByRole('table', { name: 'Run history' });
    await history.waitFor();
    expect(await history.locator('tbody tr').count()).toBe(1);
    await expect(history.locator('tbody tr').textContent()).resolves.toContain('succeeded');
    await page.getByRole('link', { name: 'Overview' }).click();
    const row = page.locator('tr[data-home-flow="E2E candidates"]');
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain('succeeded');
    const read =
      expectedStreamRecords(sandbox, 'candidates').length + expectedStreamRecords(sandbox, 'jobs').length;
    await expect(row.getByTestId('records').textContent()).resolves.toContain(`read ${read}`);
    await expect(page.locator('tr[data-home-credential="read only"]').textContent()).resolves.toContain(
      'Read-only',
    );
    await expect(page.getByTestId('first-steps').count()).resolves.toBe(0);
    await shot('home');
    await page.goBack();
  });

  it('previews the synced tables: picked from a list, business columns first, ids on one line, JSON unfolds', async () => {
    await page.getByRole('link', { name: 'Preview synced data' }).click();
    const table = page.getByRole('table', { name: 'Rows of candidates' });
    await table.waitFor();
    expect(await table.locator('tbody tr').count()).toBe(
      Math.min(25, expectedStreamRecords(sandbox, 'candidates').length),
    );
    const headers = await table.locator('thead th').allTextContents();
    const firstBookkeeping = headers.findIndex((h) => h.startsWith('_ashpipe_'));
    expect(firstBookkeeping).toBeGreaterThan(0);
    expect(headers.slice(firstBookkeeping).every((h) => h.startsWith('_ashpipe_'))).toBe(true);
    const idCell = table.locator('tbody tr').first().locator('td').nth(headers.indexOf('id'));
    expect(await idCell.getAttribute('class')).toContain('nowrap');
    const json = table.locator('.json-cell').first();
    await json.locator('summary').click();
    expect(await json.locator('pre').isVisible()).toBe(true);
    await shot('preview');
    // Every synced table is listed; custom field values preview like any other.
    const tables = page.getByRole('navigation', { name: 'Tables' });
    await expect(
      tables.locator('button[data-table]').evaluateAll((b) => b.map((x) => x.getAttribute('data-table'))),
    ).resolves.toEqual(expect.arrayContaining(['candidates', 'jobs', 'custom_field_values']));
    await tables.locator('button[data-table="custom_field_values"]').click();
    const values = page.getByRole('table', { name: 'Rows of custom_field_values' });
    await values.waitFor();
    expect(await values.locator('tbody tr').count()).toBeGreaterThan(0);
    await page.setViewportSize({ width: 1366, height: 768 });
    expect(await fitsWidth(), 'the data preview scrolls sideways at 1366 px').toBe(true);
    await shot('preview-custom-field-values-1366');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('creates a destination flow from a CSV, dry-runs it, runs it and shows the bad row in the quarantine', async () => {
    await page.goto(`${server.url}/#/flows/new`);
    await page.getByRole('button', { name: /Ashby destination/ }).click();
    await page.getByRole('heading', { name: 'Authenticate' }).waitFor();
    await page.locator('button[data-credential="e2e-sandbox"]').click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Flow name *').fill('E2E import');
    await page.getByLabel('Operation template').selectOption('candidate.create');
    await page
      .getByLabel('Input records *')
      .fill(
        'Full Name,Email\nAda Lovelace,ada.e2e@example.com\nBad Row,not-an-email\nGrace Hopper,grace.e2e@example.com\nTypo Row,typo.e2e@example',
      );
    await page.getByLabel(/^Mapping/).fill('{"name": "Full Name", "email": "Email"}');
    await expect(page.getByTestId('first-request-body').textContent()).resolves.toContain('Ada Lovelace');
    await shot('configure-destination');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Dry run' }).click();
    const dry = page.getByRole('table', { name: 'Dry run' });
    await dry.waitFor();
    await expect(dry.locator('tr[data-dry-row="1"]').textContent()).resolves.toContain('ada.e2e@example.com');
    await expect(dry.locator('tr[data-dry-row="2"]').textContent()).resolves.toContain('quarantined');
    await shot('destination-dry-run');
    expect(sandbox.stats().writes['candidate.create'] ?? 0).toBe(0);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Save and activate' }).click();
    const row = page.locator('tr[data-flow="E2E import"]');
    await row.waitFor();
    await row.getByRole('button', { name: 'Run now' }).click();
    await page
      .locator('[data-run-status="succeeded"], [data-run-status="partial"], [data-run-status="failed"]')
      .waitFor({ timeout: 60_000 });
    await shot('destination-run');
    expect(await page.locator('[data-run-status]').getAttribute('data-run-status')).toBe('partial');
    const cells = page.locator('tr[data-stream="candidate.create"] td');
    await expect(cells.nth(3).textContent()).resolves.toBe('2');
    await expect(cells.nth(5).textContent()).resolves.toBe('2');
    expect(sandbox.stats().writes['candidate.create']).toBe(2);
    await page.getByRole('link', { name: 'Quarantined records of this flow' }).click();
    const quarantined = page.getByRole('table', { name: 'Quarantined records' });
    const entries = quarantined.locator('tbody tr[data-quarantine]');
    await entries.first().waitFor();
    expect(await entries.count()).toBe(2);
    const bad = entries.filter({ hasText: 'not-an-email' });
    const typo = entries.filter({ hasText: 'typo.e2e@example' });
    expect((await bad.getByTestId('reason').textContent()) ?? '').toContain('email');
    // The Ashby account the entry belongs to, by its credential's name.
    expect(await bad.getByTestId('account').textContent()).toBe('credential "e2e-sandbox"');
    await shot('quarantine');
    const badId = await bad.getAttribute('data-quarantine');
    const typoId = await typo.getAttribute('data-quarantine');

    // Edit, check, replay: a still-wrong value is refused by the check, a fixed one replays.
    await bad.getByRole('button', { name: 'Edit' }).click();
    const editor = page.getByRole('form', { name: `Edit entry ${badId}` });
    await editor.getByLabel('Email').fill('still wrong');
    await editor.getByRole('button', { name: 'Check' }).click();
    await expect(editor.getByTestId('check-result').textContent()).resolves.toContain('email');
    expect(await editor.getByRole('button', { name: 'Replay edited' }).isDisabled()).toBe(true);
    await editor.getByLabel('Email').fill('bad.row.e2e@example.com');
    await editor.getByRole('button', { name: 'Check' }).click();
    await expect(editor.getByTestId('check-result').textContent()).resolves.toContain('Valid');
    await page.setViewportSize({ width: 1366, height: 768 });
    await typo.locator('.json-cell summary').click();
    expect(await fitsWidth(), 'the quarantine with an open editor scrolls sideways at 1366 px').toBe(true);
    await shot('quarantine-edit-1366');
    await page.setViewportSize({ width: 1280, height: 900 });
    await editor.getByRole('button', { name: 'Replay edited' }).click();
    await page.getByRole('status').filter({ hasText: 'Replayed 1, still quarantined 0.' }).waitFor();
    expect(sandbox.stats().writesByKey['candidate.create']?.['bad.row.e2e@example.com']).toBe(1);

    // Dismissed, the entry leaves the open list and is found under its status.
    await typo.getByRole('button', { name: 'Dismiss' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Entry ${typoId} dismissed.` })
      .waitFor();
    // The message shows before the list is read again.
    await quarantined.locator(`tr[data-quarantine="${typoId}"]`).waitFor({ state: 'detached' });
    await expect(entries.count()).resolves.toBe(0);
    await page.getByLabel('Status').selectOption('all');
    await expect(quarantined.locator(`tr[data-quarantine="${typoId}"]`).textContent()).resolves.toContain(
      'dismissed',
    );
    const replayed = quarantined.locator(`tr[data-quarantine="${badId}"]`);
    await expect(replayed.textContent()).resolves.toContain('replayed');
    await expect(replayed.getByTestId('closed-by').textContent()).resolves.toBe('by console');
    await shot('quarantine-closed');
  });

  it('uploads a CSV from the wizard into the data directory and dry-runs it by the path the server gave it', async () => {
    const csv = path.join(home, 'people to import.csv');
    fs.writeFileSync(csv, 'Full Name,Email\nBasic Knowledge Training,bkt.e2e@example.com\n');
    await page.goto(`${server.url}/#/flows/new`);
    await page.getByRole('button', { name: /Ashby destination/ }).click();
    await page.getByRole('heading', { name: 'Authenticate' }).waitFor();
    await page.locator('button[data-credential="e2e-sandbox"]').click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Flow name *').fill('E2E upload');
    await page.getByLabel('Operation template').selectOption('candidate.create');
    await page.getByLabel('Upload a file (CSV, JSON lines or JSON)').setInputFiles(csv);
    await page.getByRole('status').filter({ hasText: 'Uploaded' }).waitFor();
    const uploaded = await page.getByLabel(/^Input file in the server/).inputValue();
    expect(uploaded).toMatch(/^uploads\/[0-9a-f-]{36}-people_to_import\.csv$/);
    expect(fs.readFileSync(path.join(home, 'data', uploaded), 'utf8')).toContain('Basic Knowledge Training');
    await page.getByLabel(/^Mapping/).fill('{"name": "Full Name", "email": "Email"}');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Dry run' }).click();
    const dry = page.getByRole('table', { name: 'Dry run' });
    await dry.waitFor();
    // The name that looks like a credential is shown as it is.
    await expect(dry.locator('tr[data-dry-row="1"]').textContent()).resolves.toContain(
      'Basic Knowledge Training',
    );
    await shot('upload-dry-run');
  });

  it('creates an API token shown once and revokes it', async () => {
    await page.goto(`${server.url}/#/tokens`);
    await page.getByLabel('Token name *').fill('nightly script');
    await page.getByRole('button', { name: 'Create token' }).click();
    const value = (await page.getByTestId('new-token').textContent()) ?? '';
    expect(value).toMatch(/^ashp_/);
    const res = await fetch(`${server.url}/api/v1/flows`, { headers: { authorization: `Bearer ${value}` } });
    expect(res.status).toBe(200);
    await shot('api-token');
    page.once('dialog', (d) => void d.accept());
    await page.locator('tr[data-token="nightly script"]').getByRole('button', { name: 'Revoke' }).click();
    await page.locator('tr[data-token="nightly script"]').waitFor({ state: 'detached' });
    const after = await fetch(`${server.url}/api/v1/flows`, {
      headers: { authorization: `Bearer ${value}` },
    });
    expect(after.status).toBe(401);
  });

  it('edits a flow from the flows list: the wizard opens prefilled and saves in place', async () => {
    await page.goto(`${server.url}/#/flows`);
    await page.locator('tr[data-flow="E2E candidates"]').getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Edit E2E candidates' }).waitFor();
    // Editing opens on Configure, not on the first step.
    await expect(page.getByLabel('Flow name *').inputValue()).resolves.toBe('E2E candidates');
    // The stream list arrives after the form: wait for it (the count reads "2 of 0" until then).
    await page
      .getByTestId('streams-chosen')
      .filter({ hasText: new RegExp(`^2 of ${STREAMS.length} selected$`) })
      .waitFor({ timeout: 10_000 });
    await expect(page.getByLabel('Target SQLite file *').inputValue()).resolves.toBe(
      path.join(home, 'data', 'e2e.db'),
    );
    await expect(page.getByLabel('Install analytics views').isChecked()).resolves.toBe(true);
    await expect(page.getByLabel('Keep history of').inputValue()).resolves.toBe('candidates');
    await page.getByRole('radio', { name: 'JSONL' }).check();
    // A JSONL target has no SQL: the option goes, and the saved flow drops it.
    await expect(page.getByLabel('Install analytics views').count()).resolves.toBe(0);
    await page.getByLabel('Target directory for JSONL files *').fill(path.join(home, 'data', 'jsonl'));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('radio', { name: 'Daily at…' }).check();
    await page.getByLabel('Time').fill('03:00');
    await expect(page.getByTestId('cron').textContent()).resolves.toBe('0 3 * * *');
    const next = await page.getByTestId('next-runs').locator('li').allTextContents();
    expect(next).toHaveLength(3);
    await page.getByRole('radio', { name: 'Cron expression' }).check();
    await page.getByLabel(/^Cron schedule/).fill('0 3 * * * * *');
    await page.getByText('Not a valid schedule').waitFor();
    await page.getByRole('radio', { name: 'Daily at…' }).check();
    await page.getByLabel('Time').fill('03:00');
    await shot('edit-flow');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const row = page.locator('tr[data-flow="E2E candidates"]');
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain('0 3 * * *');
    const flows = (await server.deps.store.listFlows()).filter((f) => f.name === 'E2E candidates');
    expect(flows).toHaveLength(1);
    expect(flows[0]?.status).toBe('active');
    expect(flows[0]?.config.kind === 'source' && flows[0].config.target).toEqual({
      type: 'jsonl',
      path: path.join(home, 'data', 'jsonl'),
    });
    expect(flows[0]?.config.options.analytics).toBeUndefined();
  });

  it('every page fits 1366×768: no sideways scroll, a screenshot of each', async () => {
    await page.setViewportSize({ width: 1366, height: 768 });
    const flows = await server.deps.store.listFlows();
    const source = flows.find((f) => f.name === 'E2E candidates');
    const destination = flows.find((f) => f.name === 'E2E import');
    const run = (await server.deps.store.listRuns({ flowId: source?.id ?? '', limit: 1, offset: 0 }))[0];
    expect(source && destination && run).toBeTruthy();
    const pages: Array<[string, string, string | RegExp]> = [
      ['overview', '#/', 'Overview'],
      ['credentials', '#/credentials', 'Credentials'],
      ['flows', '#/flows', 'Flows'],
      ['wizard', '#/flows/new', 'New data flow'],
      ['edit-source', `#/flows/${source?.id}/edit`, 'Edit E2E candidates'],
      ['edit-destination', `#/flows/${destination?.id}/edit`, 'Edit E2E import'],
      ['run', `#/runs/${run?.id}`, 'E2E candidates'],
      ['webhooks', `#/flows/${source?.id}/webhooks`, 'Webhooks — E2E candidates'],
      ['data', `#/data?flowId=${source?.id}`, 'Data preview'],
      ['quarantine', '#/quarantine', 'Quarantine'],
      ['alerts', '#/alerts', 'Alerts'],
      ['tokens', '#/tokens', 'API tokens'],
    ];
    for (const [name, hash, heading] of pages) {
      await page.goto(`${server.url}/${hash}`);
      await page.getByRole('heading', { level: 1, name: heading }).first().waitFor();
      // Closed entries too: the page at its widest.
      if (name === 'quarantine') await page.getByLabel('Status').selectOption('all');
      // The source flow now writes JSON lines where nothing was synced yet: the page says what to do.
      if (name === 'data')
        await expect(page.getByTestId('data-empty').textContent()).resolves.toContain('Nothing synced yet');
      await page.waitForLoadState('networkidle');
      expect(await fitsWidth(), `${name} (${hash}) scrolls sideways at 1366×768`).toBe(true);
      await shot(`1366-${name}`);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('changes the admin password and revokes every API token with it', async () => {
    await page.goto(`${server.url}/#/tokens`);
    await page.getByLabel('Token name *').fill('ci script');
    await page.getByRole('button', { name: 'Create token' }).click();
    const value = (await page.getByTestId('new-token').textContent()) ?? '';
    await page.getByLabel('Current password *').fill(PASSWORD);
    await page.getByLabel(/^New password/).fill('e2e second admin password');
    await page.getByLabel('Also revoke every API token').check();
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('status').filter({ hasText: 'Password changed' }).waitFor();
    await expect(
      page.getByRole('status').filter({ hasText: 'Password changed' }).textContent(),
    ).resolves.toContain('1 API token(s) revoked');
    await page.locator('tr[data-token="ci script"]').waitFor({ state: 'detached' });
    const res = await fetch(`${server.url}/api/v1/flows`, { headers: { authorization: `Bearer ${value}` } });
    expect(res.status).toBe(401);
    // This browser keeps a fresh session: it can still act.
    await page.getByLabel('Token name *').fill('after the change');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.locator('tr[data-token="after the change"]').waitFor();
    await shot('password-changed');
  });

  it('never shows the key, logs nothing with it, keeps it out of every file, and the page had no console errors', async () => {
    for (const key of [CANARY, READ_ONLY_KEY]) {
      expect(await page.content()).not.toContain(key);
      for (const body of bodies) expect(body).not.toContain(key);
      expect(logLines.join('\n')).not.toContain(key);
    }
    const files = (dir: string): string[] =>
      fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    for (const f of files(home)) expect(fs.readFileSync(f).includes(CANARY), f).toBe(false);
    // A refused credential is an expected 422 answer, which Chromium logs as a failed resource.
    expect(consoleErrors.filter((e) => !/status of 422/.test(e))).toEqual([]);
  });
});
