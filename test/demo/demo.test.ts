import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openControl } from '../../src/control/index.js';
import { DEMO_CREDENTIAL, DEMO_QUERIES, runDemo } from '../../src/demo/run.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { Vault } from '../../src/vault/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('ashpipe demo', () => {
  it('syncs the sandbox, then reads only the changes, then applies the deletion with a full pass', async () => {
    const lines: string[] = [];
    const db = path.join(dir, 'demo.db');
    const home = path.join(dir, 'home');
    const result = await runDemo({ db, home, scale: 250, say: (l) => lines.push(l) });

    const candidates = (s: typeof result.full) => s.streams.find((r) => r.stream === 'candidates');
    expect(candidates(result.full)).toMatchObject({ mode: 'full', status: 'ok' });
    expect(candidates(result.full)?.inserted).toBeGreaterThanOrEqual(250);
    // Two creates and three updates, nothing else.
    expect(candidates(result.incremental)).toMatchObject({
      mode: 'incremental',
      inserted: 2,
      updated: 3,
      deleted: 0,
    });
    expect(candidates(result.incremental)?.requests).toBe(1);
    expect(candidates(result.full)?.requests).toBeGreaterThanOrEqual(3);
    expect(result.incremental.totals.records).toBeLessThan(result.full.totals.records);
    expect(candidates(result.reconcile)).toMatchObject({ mode: 'full', deleted: 1 });

    // The key went through the demo's own vault.
    const control = await openControl({ home });
    try {
      const vault = new Vault(control, { home, env: {} });
      expect(await vault.has(DEMO_CREDENTIAL)).toBe(true);
      expect((await vault.get(DEMO_CREDENTIAL)).baseUrl).toBe(result.sandboxUrl);
    } finally {
      await control.close();
    }

    // The example queries work on the database as printed.
    const sqlite = openSqlite(db, { readonly: true });
    try {
      for (const q of DEMO_QUERIES) expect(sqlite.prepare(q).all().length).toBeGreaterThan(0);
      const deleted = sqlite
        .prepare('SELECT id FROM candidates WHERE _ashpipe_deleted_at IS NOT NULL')
        .all() as Array<{ id: string }>;
      expect(deleted.map((r) => r.id)).toEqual(result.changes.deleted);
      // The creates and updates went through the API, and the synced rows show what was sent.
      expect(result.apiWrites).toEqual({
        'candidate.create': 2,
        'candidate.update': 3,
        'application.changeStage': 1,
      });
      const raw = (id: string) => {
        const row = sqlite.prepare('SELECT _ashpipe_raw FROM candidates WHERE id = ?').get(id) as
          | { _ashpipe_raw: string }
          | undefined;
        return JSON.parse(String(row?._ashpipe_raw)) as Record<string, unknown>;
      };
      const emails = result.changes.created.map(
        (id) => (raw(id).primaryEmailAddress as { value?: string } | undefined)?.value,
      );
      expect(emails).toEqual(['grace.hopper@example.com', 'katherine.johnson@example.com']);
      for (const id of result.changes.updated) {
        expect(raw(id).primaryLocation).toMatchObject({ locationSummary: 'Lisbon, Portugal' });
      }
    } finally {
      sqlite.close();
    }
    expect(lines.join('\n')).toContain('Incremental sync');
    // History mode on applications: the application moved to another stage has its two versions.
    expect(result.history).toMatchObject({ table: 'applications_history', movedApplicationVersions: 2 });
    expect(lines.join('\n')).toContain(
      'applications_history keeps every version (2 of the application that moved',
    );
    // The stage history is on: the incremental run re-read the history of the one application that moved.
    const history = (s: typeof result.full) =>
      s.streams.find((r) => r.stream === 'application_stage_history');
    expect(history(result.incremental)).toMatchObject({ mode: 'incremental', requests: 1, status: 'ok' });
    expect(history(result.full)?.requests).toBeGreaterThan(1);
    // …and one analytics view is printed: the funnel of one job, every row of that job.
    expect(result.analytics.rows.length).toBeGreaterThan(0);
    expect(result.analytics.rows.every((r) => r.job_id === result.analytics.job)).toBe(true);
    expect(lines.join('\n')).toContain('analytics_application_funnel');
  });
});
