/**
 * Quarantine entries are closed by hand (resolve, dismiss: REST and CLI alike); a closed entry cannot be
 * closed again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { addQuarantine, getQuarantine } from '../../src/push/ledger.js';
import { runCli } from '../support/cli.js';
import { asJson, type Harness, harness, signedInHeaders } from './helpers.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const quarantine = (recordKey: string) =>
  addQuarantine(h.typed, {
    runId: 'run_test',
    operation: 'candidate.create',
    recordKey,
    rowNumber: 2,
    errorCode: 'invalid_input',
    errorMessage: 'email: not an email address',
    raw: { name: 'Ada', email: 'not-an-email' },
  });

describe('closing quarantine entries', () => {
  it('resolve and dismiss over REST: the status says which, and only an open entry can be closed', async () => {
    h = await harness();
    const headers = await signedInHeaders(h);
    const a = await quarantine('key-a');
    const b = await quarantine('key-b');
    const post = (p: string) => h.request(`/api/v1/quarantine/${p}`, { method: 'POST', headers });
    const resolved = await post(`${a}/resolve`);
    expect(resolved.status).toBe(200);
    const item = (await resolved.json().then(asJson)).item;
    expect(item.status).toBe('resolved');
    expect(item.closedBy).toBe('console');
    expect(item.closedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect((await (await post(`${b}/dismiss`)).json().then(asJson)).item.status).toBe('dismissed');
    const again = await post(`${a}/dismiss`);
    expect(again.status).toBe(409);
    expect((await again.json().then(asJson)).error.message).toBe(`quarantine entry ${a} is already resolved`);
    expect((await post('999/resolve')).status).toBe(404);
    const open = await (await h.request('/api/v1/quarantine', { headers })).json().then(asJson);
    expect(open.items).toEqual([]);
    const dismissed = await (await h.request('/api/v1/quarantine?status=dismissed', { headers }))
      .json()
      .then(asJson);
    expect(dismissed.items.map((i: { id: string }) => i.id)).toEqual([String(b)]);
  });

  it('ashpipe quarantine resolve|dismiss ID closes the entry; an unknown or closed one is a usage error', async () => {
    h = await harness();
    const a = await quarantine('key-a');
    const b = await quarantine('key-b');
    const env = { ASHPIPE_HOME: h.home };
    const resolved = await runCli(['quarantine', 'resolve', String(a)], env);
    expect(resolved.code).toBe(0);
    expect(resolved.err).toContain(`quarantine entry ${a} resolved`);
    expect((await runCli(['quarantine', 'dismiss', String(b)], env)).code).toBe(0);
    expect((await getQuarantine(h.typed.db, a))?.status).toBe('resolved');
    expect((await getQuarantine(h.typed.db, b))?.status).toBe('dismissed');
    expect((await getQuarantine(h.typed.db, a))?.closedBy).toBe('ashpipe quarantine resolve');
    expect((await getQuarantine(h.typed.db, b))?.closedBy).toBe('ashpipe quarantine dismiss');
    const again = await runCli(['quarantine', 'dismiss', String(a)], env);
    expect(again.code).toBe(2);
    expect(again.err).toContain(`quarantine entry ${a} is already resolved`);
    expect((await runCli(['quarantine', 'resolve', '999'], env)).code).toBe(2);
  });

  it('ashpipe quarantine list: a status column, 100 columns wide with the reason cut; --wide has who closed it', async () => {
    h = await harness();
    const a = await quarantine('key-a');
    const long = await addQuarantine(h.typed, {
      runId: 'run_test',
      operation: 'candidate.create',
      recordKey: 'key-long',
      rowNumber: 7,
      errorCode: 'invalid_input',
      errorMessage: `name: ${'far too long a reason '.repeat(8).trim()}`,
      fieldPath: 'name',
      raw: { name: 'x' },
    });
    const env = { ASHPIPE_HOME: h.home };
    expect((await runCli(['quarantine', 'resolve', String(a)], env)).code).toBe(0);
    const list = await runCli(['quarantine', 'list', '--status', 'all'], env);
    expect(list.code).toBe(0);
    const rows = list.out.split('\n').filter((l) => l !== '');
    expect(rows[0]).toMatch(/^id\s+status\s+account\s+operation\s+row\s+reason$/);
    for (const row of rows) expect(row.length).toBeLessThanOrEqual(100);
    expect(rows.find((r) => r.startsWith(`${a} `))).toMatch(
      new RegExp(`^${a}\\s+resolved\\s+shared\\s+candidate\\.create\\s+2\\s+email: not an email address$`),
    );
    const cut = rows.find((r) => r.startsWith(`${long} `)) ?? '';
    expect(cut).toMatch(/^\d+\s+open\s+shared\s+candidate\.create\s+7\s+name: far too long a reason far too/);
    expect(cut.endsWith('…')).toBe(true);
    const wide = await runCli(['quarantine', 'list', '--status', 'all', '--wide'], env);
    expect(wide.out).toContain('closed by');
    expect(wide.out).toContain('ashpipe quarantine resolve');
    expect(wide.out).toContain(`name: ${'far too long a reason '.repeat(8).trim()}`);
  });
});
