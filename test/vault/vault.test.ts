import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openControlStore } from '../../src/control/index.js';
import { redact } from '../../src/util/redact.js';
import { Vault, VaultError } from '../../src/vault/index.js';
import { filesUnder, makeTempHome, removeAll } from './helpers.js';

const cleanup: string[] = [];
afterEach(() => removeAll(cleanup));

function open(home: string, env: NodeJS.ProcessEnv = {}, notices: string[] = []) {
  const store = openControlStore(home);
  return { store, vault: new Vault(store, { home, env, notice: (m) => notices.push(m) }) };
}

const KEY = 'ashby-live-key-0123456789abcdef';

describe('credentials vault', () => {
  it('stores a key encrypted and gives it back for use, recording the use', () => {
    const home = makeTempHome(cleanup);
    const notices: string[] = [];
    const { store, vault } = open(home, {}, notices);
    const added = vault.add({
      name: 'prod-sync',
      description: 'nightly sync, owner: data team',
      apiKey: KEY,
    });
    expect(added).toMatchObject({ name: 'prod-sync', maskedKey: '••••cdef', status: 'unverified' });
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain(path.join(home, 'master.key'));
    expect(notices[0]).toMatch(/losing it loses/);

    const { apiKey, credential } = vault.reveal('prod-sync', 'sync');
    expect(apiKey).toBe(KEY);
    expect(credential.id).toBe(added.id);
    expect(redact(`key=${KEY}`)).not.toContain(KEY);
    const audit = vault.auditLog('prod-sync');
    expect(audit.map((e) => e.action)).toEqual(['create', 'use']);
    expect(audit[1]).toMatchObject({ purpose: 'sync', outcome: 'ok', credentialId: added.id });
    expect(audit[0]?.actor).toBeTruthy();
    store.close();

    for (const file of filesUnder(home)) {
      const bytes = fs.readFileSync(file);
      expect(bytes.includes(Buffer.from(KEY)), file).toBe(false);
    }
  });

  it('creates master.key 0600 in a 0700 home, and reuses it afterwards', () => {
    const home = makeTempHome(cleanup);
    const { store, vault } = open(home);
    vault.add({ name: 'a', apiKey: KEY });
    const keyFile = path.join(home, 'master.key');
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(fs.statSync(home).mode & 0o777).toBe(0o700);
    expect(Buffer.from(fs.readFileSync(keyFile, 'utf8').trim(), 'base64')).toHaveLength(32);
    const before = fs.readFileSync(keyFile, 'utf8');
    vault.add({ name: 'b', apiKey: `${KEY}-2` });
    expect(fs.readFileSync(keyFile, 'utf8')).toBe(before);
    fs.chmodSync(keyFile, 0o644);
    expect(vault.reveal('a', 'test').apiKey).toBe(KEY);
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(vault.reveal('b', 'test').apiKey).toBe(`${KEY}-2`);
    store.close();
  });

  it('uses ASHPIPE_MASTER_KEY when set and writes no key file', () => {
    const home = makeTempHome(cleanup);
    const env = { ASHPIPE_MASTER_KEY: randomBytes(32).toString('base64') };
    const { store, vault } = open(home, env);
    vault.add({ name: 'a', apiKey: KEY });
    expect(fs.existsSync(path.join(home, 'master.key'))).toBe(false);
    expect(vault.reveal('a', 'test').apiKey).toBe(KEY);
    store.close();
  });

  it('rejects an ASHPIPE_MASTER_KEY that is not base64 of 32 bytes', () => {
    const home = makeTempHome(cleanup);
    for (const bad of ['not base64!', randomBytes(16).toString('base64'), 'a'.repeat(44)]) {
      const { store, vault } = open(home, { ASHPIPE_MASTER_KEY: bad });
      expect(() => vault.add({ name: 'a', apiKey: KEY })).toThrow(
        /ASHPIPE_MASTER_KEY must be the base64 encoding of exactly 32 bytes/,
      );
      store.close();
    }
  });

  it('refuses another master key with a clear message', () => {
    const home = makeTempHome(cleanup);
    const first = open(home, { ASHPIPE_MASTER_KEY: randomBytes(32).toString('base64') });
    first.vault.add({ name: 'a', apiKey: KEY });
    first.store.close();
    const second = open(home, { ASHPIPE_MASTER_KEY: randomBytes(32).toString('base64') });
    expect(() => second.vault.reveal('a', 'sync')).toThrow('this vault was sealed with another master key');
    expect(() => second.vault.add({ name: 'b', apiKey: KEY })).toThrow(/sealed with another master key/);
    expect(second.vault.list().map((c) => c.name)).toEqual(['a']);
    second.store.close();
  });

  it('a vault without its fingerprint row: another key is named as the likely cause, and the right key pins it', () => {
    const home = makeTempHome(cleanup);
    const right = { ASHPIPE_MASTER_KEY: randomBytes(32).toString('base64') };
    const wrong = { ASHPIPE_MASTER_KEY: randomBytes(32).toString('base64') };
    const first = open(home, right);
    first.vault.add({ name: 'a', apiKey: KEY });
    // A store copied without its metadata row.
    first.store.db.exec("DELETE FROM vault_meta WHERE key = 'master_key_fingerprint'");
    first.store.close();
    const fingerprintRows = (store: ReturnType<typeof open>['store']) =>
      store.db.prepare("SELECT value FROM vault_meta WHERE key = 'master_key_fingerprint'").all();

    const other = open(home, wrong);
    const refused = (() => {
      try {
        other.vault.reveal('a', 'sync');
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(refused).toBeInstanceOf(VaultError);
    expect((refused as VaultError).code).toBe('master_key_mismatch');
    expect((refused as VaultError).message).toContain(
      'this vault was sealed with another master key (or its ciphertexts were altered)',
    );
    // The wrong key is neither pinned nor used to seal a new credential.
    expect(() => other.vault.add({ name: 'b', apiKey: KEY })).toThrow(/sealed with another master key/);
    expect(fingerprintRows(other.store)).toEqual([]);
    expect(other.vault.list().map((c) => c.name)).toEqual(['a']);
    other.store.close();

    const owner = open(home, right);
    expect(owner.vault.reveal('a', 'sync').apiKey).toBe(KEY);
    expect(fingerprintRows(owner.store)).toHaveLength(1);
    owner.store.close();
    // Pinned now: a mismatch is recognised from the fingerprint alone.
    const later = open(home, wrong);
    expect(() => later.vault.reveal('a', 'sync')).toThrow(
      /^this vault was sealed with another master key: set ASHPIPE_MASTER_KEY/,
    );
    later.store.close();
  });

  it('fails closed when the master key is missing: no new key, no decryption', () => {
    const home = makeTempHome(cleanup);
    const first = open(home);
    first.vault.add({ name: 'a', apiKey: KEY });
    first.store.close();
    fs.rmSync(path.join(home, 'master.key'));
    const second = open(home);
    expect(() => second.vault.reveal('a', 'sync')).toThrow(/master key is missing/);
    expect(() => second.vault.add({ name: 'b', apiKey: KEY })).toThrow(/master key is missing/);
    expect(fs.existsSync(path.join(home, 'master.key'))).toBe(false);
    second.store.close();
  });

  it('refuses a ciphertext copied onto another credential', () => {
    const home = makeTempHome(cleanup);
    const { store, vault } = open(home);
    vault.add({ name: 'victim', apiKey: KEY });
    vault.add({ name: 'attacker', apiKey: 'attacker-key-000000' });
    store.db.exec(`UPDATE credentials SET
        (key_ciphertext, key_iv, key_tag, data_key_wrapped, data_key_iv, data_key_tag) =
        (SELECT key_ciphertext, key_iv, key_tag, data_key_wrapped, data_key_iv, data_key_tag
           FROM credentials WHERE name = 'victim')
      WHERE name = 'attacker'`);
    expect(() => vault.reveal('attacker', 'sync')).toThrow(/"attacker" could not be decrypted/);
    expect(vault.auditLog('attacker').at(-1)).toMatchObject({ action: 'use', outcome: 'failed' });
    store.close();
  });

  it('rotates a key in place: same id, new key, old ciphertext gone', () => {
    const home = makeTempHome(cleanup);
    const { store, vault } = open(home);
    const before = vault.add({ name: 'prod', apiKey: KEY });
    const oldRow = store.db.prepare('SELECT key_ciphertext, data_key_wrapped FROM credentials').get() as {
      key_ciphertext: Buffer;
      data_key_wrapped: Buffer;
    };
    const after = vault.rotate('prod', 'ashby-new-key-999999zzzz');
    expect(after.id).toBe(before.id);
    expect(after.maskedKey).toBe('••••zzzz');
    expect(after.rotatedAt).toBeDefined();
    expect(vault.reveal('prod', 'sync').apiKey).toBe('ashby-new-key-999999zzzz');
    const newRow = store.db
      .prepare('SELECT key_ciphertext, data_key_wrapped FROM credentials')
      .get() as typeof oldRow;
    expect(newRow.key_ciphertext.equals(oldRow.key_ciphertext)).toBe(false);
    expect(newRow.data_key_wrapped.equals(oldRow.data_key_wrapped)).toBe(false);
    expect(vault.auditLog('prod').map((e) => e.action)).toEqual(['create', 'rotate', 'use']);
    const stillStored = (needle: Buffer) => filesUnder(home).some((f) => fs.readFileSync(f).includes(needle));
    expect(stillStored(oldRow.key_ciphertext)).toBe(false);
    expect(stillStored(oldRow.data_key_wrapped)).toBe(false);
    expect(stillStored(newRow.key_ciphertext)).toBe(true);
    vault.delete('prod');
    expect(stillStored(newRow.key_ciphertext)).toBe(false);
    expect(stillStored(newRow.data_key_wrapped)).toBe(false);
    store.close();
  });

  it('renames, edits, deletes, and keeps a deleted credential history readable', () => {
    const home = makeTempHome(cleanup);
    const { store, vault } = open(home);
    const added = vault.add({ name: 'old', apiKey: KEY });
    vault.add({ name: 'taken', apiKey: KEY });
    expect(() => vault.add({ name: 'taken', apiKey: KEY })).toThrow(/already exists/);
    expect(() => vault.edit('old', { name: 'taken' })).toThrow(/"taken" already exists/);
    const edited = vault.edit('old', { name: 'new', description: 'owner: ops' });
    expect(edited).toMatchObject({ id: added.id, name: 'new', description: 'owner: ops' });
    expect(vault.reveal('new', 'sync').apiKey).toBe(KEY);
    vault.delete('new');
    expect(vault.has('new')).toBe(false);
    expect(() => vault.reveal('new', 'sync')).toThrow(VaultError);
    expect(vault.auditLog('new').map((e) => e.action)).toEqual(['edit', 'use', 'delete']);
    expect(
      vault
        .auditLog()
        .filter((e) => e.credentialId === added.id)
        .map((e) => e.action),
    ).toEqual(['create', 'edit', 'use', 'delete']);
    expect(() => vault.auditLog('never-existed')).toThrow(/no credential named "never-existed"/);
    store.close();
  });

  it('validates names and keys', () => {
    const home = makeTempHome(cleanup);
    const { store, vault } = open(home);
    expect(() => vault.add({ name: '  ', apiKey: KEY })).toThrow(/needs a name/);
    expect(() => vault.add({ name: '-flag', apiKey: KEY })).toThrow(/not valid/);
    expect(() => vault.add({ name: 'ok', apiKey: '' })).toThrow(/empty/);
    expect(() => vault.add({ name: 'ok', apiKey: 'two words here' })).toThrow(/whitespace/);
    expect(vault.list()).toEqual([]);
    store.close();
  });
});
