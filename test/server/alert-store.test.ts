import { afterEach, describe, expect, it } from 'vitest';
import type { Control } from '../../src/control/open.js';
import { AlertChannelStore, ControlIncidentStore } from '../../src/server/alert-store.js';
import { redact } from '../../src/util/redact.js';
import { controlDialects, newControlTarget, openTarget, removeControlTargets } from '../support/control.js';

const opened: Control[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
  await removeControlTargets();
});

describe.each(controlDialects('the alert tables on PostgreSQL'))('alert tables on %s', (dialect) => {
  async function open() {
    const control = await openTarget(newControlTarget(dialect));
    opened.push(control);
    return control;
  }

  it('keeps channels by unique name, with their settings read back as written, and deletes them', async () => {
    const control = await open();
    const store = new AlertChannelStore(control.db, () => new Date('2026-12-01T10:00:00.000Z'));
    const password = 'smtp-password-canary-7f3a9c';
    const mail = await store.create({
      type: 'email',
      name: 'ops-mail',
      to: ['a@example.com'],
      from: 'ashpipe@example.com',
      smtp: { host: 'smtp.example.com', port: 2525, secure: false, user: 'u', password },
    });
    const hook = await store.create({
      type: 'webhook',
      name: 'chat',
      url: 'https://hooks.example.com/T1/B2/webhook-token-canary-51e8',
      format: 'slack',
      events: ['run_failed'],
    });
    expect(mail.id).toMatch(/^chn_/);
    // Listed by name; what comes back is exactly what went in.
    expect((await store.list()).map((c) => [c.config.name, c.createdAt])).toEqual([
      ['chat', '2026-12-01T10:00:00.000Z'],
      ['ops-mail', '2026-12-01T10:00:00.000Z'],
    ]);
    expect((await store.get(mail.id))?.config).toEqual({
      type: 'email',
      name: 'ops-mail',
      to: ['a@example.com'],
      from: 'ashpipe@example.com',
      smtp: { host: 'smtp.example.com', port: 2525, secure: false, user: 'u', password },
    });
    // Secrets read from the store are masked wherever they would be logged.
    expect(
      redact(`login ${password} to https://hooks.example.com/T1/B2/webhook-token-canary-51e8`),
    ).not.toMatch(/canary/);
    await expect(
      store.create({ type: 'webhook', name: 'chat', url: 'https://x.example.com/h', format: 'json' }),
    ).rejects.toThrow();
    const renamed = await store.update(hook.id, {
      type: 'webhook',
      name: 'chat-2',
      url: 'https://hooks.example.com/T1/B2/webhook-token-canary-51e8',
      format: 'json',
    });
    expect(renamed?.config.name).toBe('chat-2');
    expect((await store.byName('chat-2'))?.id).toBe(hook.id);
    expect(await store.update('chn_missing', renamed!.config)).toBeUndefined();
    expect(await store.delete(hook.id)).toBe(true);
    expect(await store.delete(hook.id)).toBe(false);
    expect((await store.list()).map((c) => c.config.name)).toEqual(['ops-mail']);
  });

  it('seals the secrets with the master key: not in the row, read back whole, bound to the channel', async () => {
    const control = await open();
    const key = Buffer.alloc(32, 9);
    const store = new AlertChannelStore(control.db, undefined, async () => key);
    const password = 'sealed-smtp-canary-2b7e';
    const url = 'https://hooks.example.com/T9/B9/sealed-hook-canary-6c1d';
    const mail = await store.create({
      type: 'email',
      name: 'mail',
      to: ['a@example.com'],
      from: 'b@example.com',
      smtp: { host: 'smtp.example.com', port: 587, secure: false, password },
    });
    const hook = await store.create({ type: 'webhook', name: 'hook', url, format: 'json' });
    const rows = await control.db.selectFrom('alert_channels').selectAll().execute();
    const raw = JSON.stringify(rows);
    expect(raw).not.toContain('sealed-smtp-canary');
    expect(raw).not.toContain('sealed-hook-canary');
    expect(raw).not.toContain(Buffer.from(password).toString('base64'));
    expect((await store.get(mail.id))?.config).toEqual({
      type: 'email',
      name: 'mail',
      to: ['a@example.com'],
      from: 'b@example.com',
      smtp: { host: 'smtp.example.com', port: 587, secure: false, password },
    });
    expect((await store.get(hook.id))?.config).toEqual({
      type: 'webhook',
      name: 'hook',
      url,
      format: 'json',
    });
    // Another master key, or a row's sealed secrets copied onto another channel, do not open.
    await expect(
      new AlertChannelStore(control.db, undefined, async () => Buffer.alloc(32, 1)).get(hook.id),
    ).rejects.toThrow(/could not be decrypted/);
    const mailRow = rows.find((r) => r.id === mail.id);
    await control.db
      .updateTable('alert_channels')
      .set({ config: mailRow?.config ?? '' })
      .where('id', '=', hook.id)
      .execute();
    await expect(store.get(hook.id)).rejects.toThrow(/could not be decrypted/);
  });

  it('keeps open incidents: stored, folded, listed in opening order, and removed', async () => {
    const control = await open();
    const incidents = new ControlIncidentStore(control.db);
    await incidents.put({
      key: 'run_failed:flow_1',
      event: 'run_failed',
      openedAt: '2026-12-01T10:00:00.000Z',
      count: 1,
      notified: [],
      flow: { id: 'flow_1', name: 'Candidates' },
    });
    await incidents.put({
      key: 'credential_failing:cred_1',
      event: 'credential_failing',
      openedAt: '2026-12-01T11:00:00.000Z',
      count: 1,
      notified: ['ops-mail'],
    });
    await incidents.put({
      key: 'run_failed:flow_1',
      event: 'run_failed',
      openedAt: '2026-12-01T10:00:00.000Z',
      count: 2,
      notified: ['ops-mail', 'chat'],
      flow: { id: 'flow_1', name: 'Candidates' },
    });
    expect(await incidents.get('run_failed:flow_1')).toEqual({
      key: 'run_failed:flow_1',
      event: 'run_failed',
      openedAt: '2026-12-01T10:00:00.000Z',
      count: 2,
      notified: ['ops-mail', 'chat'],
      flow: { id: 'flow_1', name: 'Candidates' },
    });
    expect((await incidents.list()).map((i) => i.key)).toEqual([
      'run_failed:flow_1',
      'credential_failing:cred_1',
    ]);
    await incidents.remove('run_failed:flow_1');
    expect(await incidents.get('run_failed:flow_1')).toBeUndefined();
    expect(await incidents.get('credential_failing:cred_1')).toEqual({
      key: 'credential_failing:cred_1',
      event: 'credential_failing',
      openedAt: '2026-12-01T11:00:00.000Z',
      count: 1,
      notified: ['ops-mail'],
    });
  });
});
