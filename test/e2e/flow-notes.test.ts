import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import type { SandboxKey } from '../../src/sandbox/index.js';
import type { RunningServer } from '../../src/server/index.js';
import {
  browserSuiteRuns,
  type ConsoleSuite,
  ROOT,
  setAdminPassword,
  startConsoleSuite,
} from '../support/browser.js';
import { runCli } from '../support/cli.js';
import { createApiToken } from '../support/server-token.js';

const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'flow-notes');
const PASSWORD = 'managed flows password';
const REVOCABLE: SandboxKey = {
  key: 'revocable-key-for-notes',
  title: 'Revocable',
  scopes: [...ALL_SCOPES],
  confidential: true,
  deactivated: false,
};
const runs = browserSuiteRuns('flow notes console test');

describe.skipIf(!runs)(
  'what the flows list and overview say about a flow: managed by a file, paused after failures, its freshness promise',
  () => {
    let suite: ConsoleSuite | undefined;
    let server: RunningServer;
    let page: Page;
    let home: string;
    let token: string;

    beforeAll(async () => {
      suite = await startConsoleSuite({
        artifacts: 'flow-notes',
        sandbox: { scale: 20, keys: [REVOCABLE] },
        masterKeyByte: 5,
      });
      ({ server, page, home } = suite);
    }, 180_000);

    afterAll(async () => {
      await suite?.close();
    });

    it('marks the flows a file manages in the list and warns before an edit', async () => {
      await setAdminPassword(page, server.url, PASSWORD);
      token = await createApiToken(server.url, PASSWORD);
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

    const api = async <T>(method: string, route: string, body?: unknown): Promise<T> => {
      const res = await fetch(`${server.url}/api/v1${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };

    it('says a flow was paused after failed runs, links the run, and offers Activate', async () => {
      const { credential } = await api<{ credential: { id: string } }>('POST', '/credentials', {
        name: 'revocable',
        apiKey: REVOCABLE.key,
      });
      const { flow } = await api<{ flow: { id: string } }>('POST', '/flows?activate=true', {
        kind: 'source',
        name: 'Fails once',
        credentialId: credential.id,
        schedule: '0 0 1 1 *',
        streams: ['jobs'],
        target: { type: 'jsonl', path: path.join(home, 'data', 'fails') },
        options: { alerts: { autoPauseAfter: 1 } },
      });
      REVOCABLE.deactivated = true;
      const { run } = await api<{ run: { id: string } }>('POST', `/flows/${flow.id}/run`);
      for (let i = 0; i < 200; i++) {
        const now = await api<{ flow: { status: string; runningRunId: string | null } }>(
          'GET',
          `/flows/${flow.id}`,
        );
        if (now.flow.status === 'paused' && now.flow.runningRunId === null) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await page.goto(`${server.url}/#/flows`);
      const row = page.locator('tr[data-flow="Fails once"]');
      const note = row.getByTestId('paused-reason');
      await note.waitFor();
      // The reason is the one kept with the flow when its alerts paused it, the run's error in it.
      const { flow: paused } = await api<{ flow: { pausedReason: string | null; pausedAt: string | null } }>(
        'GET',
        `/flows/${flow.id}`,
      );
      expect(paused.pausedReason).toMatch(/^paused after a failed run \(last: .*API key.*\)$/);
      expect(paused.pausedAt).not.toBeNull();
      expect(await note.textContent()).toBe(
        `${paused.pausedReason} (see the run); fix the cause, then Activate`,
      );
      expect(await note.getByRole('link', { name: 'see the run' }).getAttribute('href')).toBe(
        `#/runs/${run.id}`,
      );
      await page.screenshot({ path: path.join(ARTIFACTS, '03-paused-after-failure.png'), fullPage: true });
      REVOCABLE.deactivated = false;
      await row.getByRole('button', { name: 'Activate' }).click();
      await row.getByRole('button', { name: 'Pause' }).waitFor();
      expect(await row.getByTestId('paused-reason').count()).toBe(0);
      const { flow: active } = await api<{ flow: { pausedReason: string | null } }>(
        'GET',
        `/flows/${flow.id}`,
      );
      expect(active.pausedReason).toBeNull();
    });

    it('shows a freshness promise on the overview and per stream on the health page, kept and then broken', async () => {
      const { credential } = await api<{ credential: { id: string } }>('POST', '/credentials', {
        name: 'sandbox',
        apiKey: 'sandbox-full',
      });
      const { flow } = await api<{ flow: { id: string } }>('POST', '/flows?activate=true', {
        kind: 'source',
        name: 'Promised',
        credentialId: credential.id,
        schedule: '0 0 1 1 *',
        streams: ['jobs'],
        target: { type: 'jsonl', path: path.join(home, 'data', 'promised') },
        options: { alerts: { freshnessMinutes: 60 } },
      });
      const { run } = await api<{ run: { id: string } }>('POST', `/flows/${flow.id}/run`);
      for (let i = 0; i < 300; i++) {
        const now = await api<{ run: { status: string } }>('GET', `/runs/${run.id}`);
        if (now.run.status !== 'running' && now.run.status !== 'queued') {
          expect(now.run.status).toBe('succeeded');
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const overview = async () => {
        await page.goto(`${server.url}/#/`);
        const cell = page.locator('tr[data-home-flow="Promised"]').getByTestId('freshness-promise');
        await cell.waitFor();
        return cell.textContent();
      };
      const withinPromise = async () => {
        await page.goto(`${server.url}/#/flows`);
        await page.locator('tr[data-flow="Promised"]').getByRole('link', { name: 'Health' }).click();
        await page.getByRole('heading', { name: 'Run health — Promised' }).waitFor();
        const table = page.getByRole('table', { name: 'Freshness numbers' });
        expect(await table.locator('th').allTextContents()).toContain('Within the promise');
        return table.locator('tr[data-stream="jobs"] td').last().textContent();
      };
      // Just read: within the promise of one hour.
      expect(await overview()).toBe('promise ≤ 1 h: kept');
      expect(await withinPromise()).toBe('yes');
      await page.screenshot({ path: path.join(ARTIFACTS, '04-promise-kept.png'), fullPage: true });
      // Two hours on, with no run since: broken on both pages.
      await page.clock.setFixedTime(new Date(Date.now() + 2 * 3600_000));
      expect(await overview()).toBe('promise ≤ 1 h: broken');
      await page.screenshot({ path: path.join(ARTIFACTS, '05-promise-broken.png'), fullPage: true });
      expect(await withinPromise()).toBe('no');
      // A paused flow is not held to its promise (the server checks active flows only).
      await api('POST', `/flows/${flow.id}/pause`);
      await page.goto(`${server.url}/#/`);
      await page.locator('tr[data-home-flow="Promised"]').waitFor();
      expect(
        await page.locator('tr[data-home-flow="Promised"]').getByTestId('freshness-promise').count(),
      ).toBe(0);
    });
  },
);
