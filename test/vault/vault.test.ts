import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { Control } from '../../src/control/open.js';
import { redact } from '../../src/util/redact.js';
import { Vault, VaultError } from '../../src/vault/index.js';
import {
  type ControlTarget,
  controlDialects,
  newControlTarget,
  openTarget,
  removeControlTargets,
} from '../support/control.js';
import { filesUnder } from './helpers.js';

const opened: Control[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
  await removeControlTargets();
});

async function open(target: ControlTarget, env: NodeJS.ProcessEnv = {}, notices: string[] = []) {
  const control = await openTarget(target);
  opened.push(control);
  const vault = new Vault(control, { home: target.home, env, notice: (m) => notices.push(m) });
  return { control, vault };
}

/** Closes a vault's control store before the test opens the same store again (another process, in effect). */
async function close(control: Control): Promise<void> {
  opened.splice(opened.indexOf(control), 1);
  await control.close();
}

/** Every value of every vault table, as stored: what someone with a copy of the database would see. */
async function storedValues(control: Control): Promise<Array<string | Buffer>> {
  const tables = ['credentials', 'credential_audit', 'vault_meta'] as const;
  const values: Array<string | Buffer> = [];
  for (const table of tables) {
    for (const row of await control.db.selectFrom(table).selectAll().execute()) {
      for (const value of Object.values(row)) {
        if (typeof value === 'string' || Buffer.isBuffer(value)) values.push(value);
      }
    }
  }
  return values;
}

const holds = (values: Array<string | Buffer>, needle: Buffer) =>
  values.some((v) => (Buffer.isBuffer(v) ? v : Buffer.from(v)).includes(needle));

const KEY = 'ashby-live-key-0123456789abcdef';

describe.each(controlDialects('the vault on PostgreSQL'))('credentials vault on %s', (dialect) => {
  it('stores a key encrypted and gives it back for use, recording the use', async () => {
    const target = newControlTarget(dialect);
    const notices: string[] = [];
    const { control, vault } = await open(target, {}, notices);
    const added = await vault.add({
      name: 'prod-sync',
      description: 'nightly sync, owner: data team',
      apiKey: KEY,
    });
    expect(added).toMatchObject({ name: 'prod-sync', maskedKey: '••••cdef', status: 'unverified' });
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain(path.join(target.home, 'master.key'));
    expect(notices[0]).toMatch(/losing it loses/);

    const { apiKey, credential } = await vault.reveal('prod-sync', 'sync');
    expect(apiKey).toBe(KEY);
    expect(credential.id).toBe(added.id);
    expect(redact(`key=${KEY}`)).not.toContain(KEY);
    const audit = await vault.auditLog('prod-sync');
    expect(audit.map((e) => e.action)).toEqual(['create', 'use']);
    expect(audit[1]).toMatchObject({ purpose: 'sync', outcome: 'ok', credentialId: added.id });
    expect(audit[0]?.actor).toBeTruthy();
    // Nowhere in the rows, whatever the dialect, nor in any file of the home once the store is closed.
    const values = await storedValues(control);
    expect(values.length).toBeGreaterThan(10);
    expect(holds(values, Buffer.from(KEY))).toBe(false);
    await close(control);
    for (const file of filesUnder(target.home)) {
      const bytes = fs.readFileSync(file);
      expect(bytes.includes(Buffer.from(KEY)), file).toBe(false);
    }
  });

  it('creates master.key 0600 in a 0700 home, and reuses it afterwards', async () => {
    const target = newControlTarget(dialect);
    const { home } = target;
    const { vault } = await open(target);
    await vault.add({ name: 'a', apiKey: KEY });
    const keyFile = path.join(home, 'master.key');
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(fs.statSync(home).mode & 0o777).toBe(0o700);
    expect(Buffer.from(fs.readFileSync(keyFile, 'utf8').trim(), 'base64')).toHaveLength(32);
    const before = fs.readFileSync(keyFile, 'utf8');
    await vault.add({ name: 'b', apiKey: `${KEY}-2` });
    expect(fs.readFileSync(keyFile, 'utf8')).toBe(before);
    fs.chmodSync(keyFile, 0o644);
    expect((await vault.reveal('a', 'test')).apiKey).toBe(KEY);
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    expect((await vault.reveal('b', 'test')).apiKey).toBe(`${KEY}-2`);
  });

  it('uses ASHPIPE_MASTER_KEY when set and writes no key file', async () => {
    const target = newControlTarget(dialect);
    const env = { ASHPIPE_MASTER_KEY: randomBytes(32).toString('base64') };
    const { vault } = await open(target, env);
    await vault.add({ name: 'a', apiKey: KEY });
    expect(fs.existsSync(path.join(target.home, 'master.key'))).toBe(false);
    expect((await vault.reveal('a', 'test')).apiKey).toBe(KEY);
  });

  it('rejects an ASHPIPE_MASTER_KEY that is not base64 of 32 bytes', async () => {
    const target = newControlTarget(dialect);
    for (const bad of ['not base64!', randomBytes(16).toString('base64'), 'a'.repeat(44)]) {
      const { control, vault } = await open(target, { ASHPIPE_MASTER_KEY: bad });
      await expect(vault.add({ name: 'a', apiKey: KEY })).rejects.toThrow(
        /ASHPIPE_MASTER_KEY must be the base64 encoding of exactly 32 bytes/,
      );
      await close(control);
    }
  });

  it('refuses another master key with a clear message', async () => {
    const target = newControlTarget(dialect);
    const first = await open(target, { ASHPIPE_MASTER_KEY: randomBytes(32).toString('base64') });
    await first.vault.add({ name: 'a', apiKey: KEY });
    await close(first.control);
    const second = await open(target, { ASHPIPE_MASTER_KEY: randomBytes(32).toString('base64') });
    await expect(second.vault.reveal('a', 'sync')).rejects.toThrow(
      'this vault was sealed with another master key',
    );
    await expect(second.vault.add({ name: 'b', apiKey: KEY })).rejects.toThrow(
      /sealed with another master key/,
    );
    expect((await second.vault.list()).map((c) => c.name)).toEqual(['a']);
  });

  it('a vault without its fingerprint row: another key is named as the likely cause, and the right key pins it', async () => {
    const target = newControlTarget(dialect);
    const right = { ASHPIPE_MASTER_KEY: randomBytes(32).toString('base64') };
    const wrong = { ASHPIPE_MASTER_KEY: randomBytes(32).toString('base64') };
    const first = await open(target, right);
    await first.vault.add({ name: 'a', apiKey: KEY });
    // A store copied without its metadata row.
    await first.control.db.deleteFrom('vault_meta').where('key', '=', 'master_key_fingerprint').execute();
    await close(first.control);
    const fingerprintRows = (control: Control) =>
      control.db
        .selectFrom('vault_meta')
        .select('value')
        .where('key', '=', 'master_key_fingerprint')
        .execute();

    const other = await open(target, wrong);
    const refused = await other.vault.reveal('a', 'sync').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(VaultError);
    expect((refused as VaultError).code).toBe('master_key_mismatch');
    expect((refused as VaultError).message).toContain(
      'this vault was sealed with another master key (or its ciphertexts were altered)',
    );
    // The wrong key is neither pinned nor used to seal a new credential.
    await expect(other.vault.add({ name: 'b', apiKey: KEY })).rejects.toThrow(
      /sealed with another master key/,
    );
    expect(await fingerprintRows(other.control)).toEqual([]);
    expect((await other.vault.list()).map((c) => c.name)).toEqual(['a']);
    await close(other.control);

    const owner = await open(target, right);
    expect((await owner.vault.reveal('a', 'sync')).apiKey).toBe(KEY);
    expect(await fingerprintRows(owner.control)).toHaveLength(1);
    await close(owner.control);
    // Pinned now: a mismatch is recognised from the fingerprint alone.
    const later = await open(target, wrong);
    await expect(later.vault.reveal('a', 'sync')).rejects.toThrow(
      /^this vault was sealed with another master key: set ASHPIPE_MASTER_KEY/,
    );
  });

  it('fails closed when the master key is missing: no new key, no decryption', async () => {
    const target = newControlTarget(dialect);
    const first = await open(target);
    await first.vault.add({ name: 'a', apiKey: KEY });
    await close(first.control);
    fs.rmSync(path.join(target.home, 'master.key'));
    const second = await open(target);
    await expect(second.vault.reveal('a', 'sync')).rejects.toThrow(/master key is missing/);
    await expect(second.vault.add({ name: 'b', apiKey: KEY })).rejects.toThrow(/master key is missing/);
    expect(fs.existsSync(path.join(target.home, 'master.key'))).toBe(false);
  });

  it('refuses a ciphertext copied onto another credential', async () => {
    const { control, vault } = await open(newControlTarget(dialect));
    await vault.add({ name: 'victim', apiKey: KEY });
    await vault.add({ name: 'attacker', apiKey: 'attacker-key-000000' });
    await sql`UPDATE credentials SET
        (key_ciphertext, key_iv, key_tag, data_key_wrapped, data_key_iv, data_key_tag) =
        (SELECT key_ciphertext, key_iv, key_tag, data_key_wrapped, data_key_iv, data_key_tag
           FROM credentials WHERE name = 'victim')
      WHERE name = 'attacker'`.execute(control.db);
    await expect(vault.reveal('attacker', 'sync')).rejects.toThrow(/"attacker" could not be decrypted/);
    expect((await vault.auditLog('attacker')).at(-1)).toMatchObject({ action: 'use', outcome: 'failed' });
  });

  it('rotates a key in place: same id, new key, old ciphertext gone', async () => {
    const target = newControlTarget(dialect);
    const { control, vault } = await open(target);
    const row = () =>
      control.db
        .selectFrom('credentials')
        .select(['key_ciphertext', 'data_key_wrapped'])
        .executeTakeFirstOrThrow();
    const before = await vault.add({ name: 'prod', apiKey: KEY });
    const oldRow = await row();
    const after = await vault.rotate('prod', 'ashby-new-key-999999zzzz');
    expect(after.id).toBe(before.id);
    expect(after.maskedKey).toBe('••••zzzz');
    expect(after.rotatedAt).toBeDefined();
    expect((await vault.reveal('prod', 'sync')).apiKey).toBe('ashby-new-key-999999zzzz');
    const newRow = await row();
    expect(newRow.key_ciphertext.equals(oldRow.key_ciphertext)).toBe(false);
    expect(newRow.data_key_wrapped.equals(oldRow.data_key_wrapped)).toBe(false);
    expect((await vault.auditLog('prod')).map((e) => e.action)).toEqual(['create', 'rotate', 'use']);
    const values = await storedValues(control);
    expect(holds(values, oldRow.key_ciphertext)).toBe(false);
    expect(holds(values, oldRow.data_key_wrapped)).toBe(false);
    expect(holds(values, newRow.key_ciphertext)).toBe(true);
    if (dialect === 'sqlite') {
      // SQLite also zeroes the old page images: not in the database file, nor in its WAL.
      const inFiles = (needle: Buffer) =>
        filesUnder(target.home).some((f) => fs.readFileSync(f).includes(needle));
      expect(inFiles(oldRow.key_ciphertext)).toBe(false);
      expect(inFiles(oldRow.data_key_wrapped)).toBe(false);
      expect(inFiles(newRow.key_ciphertext)).toBe(true);
      await vault.delete('prod');
      expect(inFiles(newRow.key_ciphertext)).toBe(false);
      expect(inFiles(newRow.data_key_wrapped)).toBe(false);
    } else {
      await vault.delete('prod');
    }
    expect(holds(await storedValues(control), newRow.key_ciphertext)).toBe(false);
  });

  it('renames, edits, deletes, and keeps a deleted credential history readable', async () => {
    const { vault } = await open(newControlTarget(dialect));
    const added = await vault.add({ name: 'old', apiKey: KEY });
    await vault.add({ name: 'taken', apiKey: KEY });
    await expect(vault.add({ name: 'taken', apiKey: KEY })).rejects.toThrow(/already exists/);
    await expect(vault.edit('old', { name: 'taken' })).rejects.toThrow(/"taken" already exists/);
    const edited = await vault.edit('old', { name: 'new', description: 'owner: ops' });
    expect(edited).toMatchObject({ id: added.id, name: 'new', description: 'owner: ops' });
    expect((await vault.reveal('new', 'sync')).apiKey).toBe(KEY);
    await vault.delete('new');
    expect(await vault.has('new')).toBe(false);
    await expect(vault.reveal('new', 'sync')).rejects.toThrow(VaultError);
    expect((await vault.auditLog('new')).map((e) => e.action)).toEqual(['edit', 'use', 'delete']);
    expect((await vault.auditLog()).filter((e) => e.credentialId === added.id).map((e) => e.action)).toEqual([
      'create',
      'edit',
      'use',
      'delete',
    ]);
    await expect(vault.auditLog('never-existed')).rejects.toThrow(/no credential named "never-existed"/);
  });

  it('lists by name in byte order on both dialects (upper case before lower, digits first)', async () => {
    const { vault } = await open(newControlTarget(dialect));
    for (const name of ['beta', 'Zulu', 'alpha', '9-nine', 'a.b', 'a-b']) {
      await vault.add({ name, apiKey: `${KEY}-${name}` });
    }
    // Hand-sorted by code point: '9' < 'Z' < 'a' and '-' < '.' < 'l'.
    expect((await vault.list()).map((c) => c.name)).toEqual([
      '9-nine',
      'Zulu',
      'a-b',
      'a.b',
      'alpha',
      'beta',
    ]);
  });

  it('validates names and keys', async () => {
    const { vault } = await open(newControlTarget(dialect));
    await expect(vault.add({ name: '  ', apiKey: KEY })).rejects.toThrow(/needs a name/);
    await expect(vault.add({ name: '-flag', apiKey: KEY })).rejects.toThrow(/not valid/);
    await expect(vault.add({ name: 'ok', apiKey: '' })).rejects.toThrow(/empty/);
    await expect(vault.add({ name: 'ok', apiKey: 'two words here' })).rejects.toThrow(/whitespace/);
    expect(await vault.list()).toEqual([]);
  });
});
