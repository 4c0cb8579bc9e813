import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { INSTALLABLE_EVENTS } from '../../src/webhooks/install.js';
import { runCli } from '../support/cli.js';
import {
  type ControlTarget,
  controlDialects,
  newControlTarget,
  removeControlTargets,
} from '../support/control.js';

type R = Record<string, unknown>;

describe.each(controlDialects('webhook registrations on PostgreSQL'))(
  'ashpipe webhooks install, list, uninstall on %s',
  (dialect) => {
    let sandbox: Sandbox;
    let target: ControlTarget;
    let env: NodeJS.ProcessEnv;
    beforeAll(async () => {
      sandbox = await startSandbox({ scale: 10, seed: 4 });
      target = newControlTarget(dialect);
      // On PostgreSQL every command (credentials and webhooks) reads and writes the store of the URL.
      env = {
        ASHPIPE_HOME: target.home,
        ASHBY_BASE_URL: sandbox.url,
        ...(target.url === undefined ? {} : { ASHPIPE_CONTROL_URL: target.url }),
      };
      for (const [name, key] of [
        ['full', 'sandbox-full'],
        ['read', 'sandbox-read'],
      ]) {
        const add = await runCli(
          ['credentials', 'add', '--name', name as string, '--api-key-stdin'],
          env,
          key,
        );
        expect(add.code, add.err).toBe(0);
      }
    });
    afterAll(async () => {
      await sandbox?.close();
      await removeControlTargets();
    });

    it('creates one signed webhook per event type in Ashby, lists them and deletes them', async () => {
      const url = 'http://127.0.0.1:9/webhooks/ashby';
      const install = await runCli(
        [
          'webhooks',
          'install',
          '--credential',
          'full',
          '--url',
          url,
          '--events',
          'candidateDelete,offerDelete',
          '--json',
        ],
        env,
      );
      expect(install.code, install.err).toBe(0);
      const result = JSON.parse(install.out) as { secretToken: string; webhooks: R[] };
      expect(result.secretToken).toMatch(/^[0-9a-f]{64}$/);
      const inAshby = sandbox.world.allOf('webhook');
      expect(inAshby.map((h) => [h.webhookType, h.requestUrl, h.secretToken]).sort()).toEqual([
        ['candidateDelete', url, result.secretToken],
        ['offerDelete', url, result.secretToken],
      ]);
      const list = await runCli(['webhooks', 'list', '--json'], env);
      expect((JSON.parse(list.out) as R[]).map((h) => h.webhookId).sort()).toEqual(
        inAshby.map((h) => h.id).sort(),
      );
      // The secret is in the vault, not in the listing.
      expect(list.out).not.toContain(result.secretToken);
      // Nor among the credentials: a webhook secret is not an Ashby key.
      const credentials = await runCli(['credentials', 'list', '--json'], env);
      expect(
        (JSON.parse(credentials.out) as { credentials: R[] }).credentials.map((c) => c.name).sort(),
      ).toEqual(['full', 'read']);
      const reserved = await runCli(
        ['credentials', 'add', '--name', 'full:webhook-secret', '--api-key-stdin'],
        env,
        'sandbox-full',
      );
      expect(reserved.code).toBe(2);
      expect(reserved.err).toContain('kept for webhook secrets');

      const all = await runCli(['webhooks', 'install', '--credential', 'full', '--url', url, '--json'], env);
      expect(all.code, all.err).toBe(0);
      expect((JSON.parse(all.out) as { webhooks: R[] }).webhooks).toHaveLength(INSTALLABLE_EVENTS.length);

      // Renamed, the credential keeps its secret and its webhooks.
      const renamed = await runCli(['credentials', 'edit', 'full', '--name', 'renamed'], env);
      expect(renamed.code, renamed.err).toBe(0);
      const after = JSON.parse((await runCli(['webhooks', 'list', '--json'], env)).out) as R[];
      expect(new Set(after.map((h) => h.credential))).toEqual(new Set(['renamed']));
      const un = await runCli(['webhooks', 'uninstall', '--credential', 'renamed', '--json'], env);
      expect(un.code, un.err).toBe(0);
      expect((JSON.parse(un.out) as { removed: R[] }).removed).toHaveLength(2 + INSTALLABLE_EVENTS.length);
      expect(sandbox.world.allOf('webhook')).toEqual([]);
      expect(JSON.parse((await runCli(['webhooks', 'list', '--json'], env)).out)).toEqual([]);
      expect(fs.existsSync(path.join(target.home, 'control.db'))).toBe(dialect === 'sqlite');
    });

    it('says what to do when the key may not manage webhooks', async () => {
      const r = await runCli(
        [
          'webhooks',
          'install',
          '--credential',
          'read',
          '--url',
          'http://127.0.0.1:9/webhooks/ashby',
          '--events',
          'offerDelete',
        ],
        env,
      );
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(/API Keys: Write/);
      expect(r.err).toMatch(/by hand in Admin > Integrations > Webhooks/);
      expect(r.err).toMatch(/secret token for webhooks created by hand: [0-9a-f]{64}/);
    });

    it('refuses unknown event types', async () => {
      const r = await runCli(
        ['webhooks', 'install', '--credential', 'full', '--url', 'http://127.0.0.1:9/x', '--events', 'nope'],
        env,
      );
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/unknown event type nope/);
    });
  },
);
