/**
 * The PII hash key comes from the control store's vault on both dialects: the same master key gives the
 * same hashes as before the store moved to the query layer, every process on one store agrees, and a
 * process with another key (or none) is refused instead of hashing differently.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashKeyId, loadHashKey, resolvePiiPolicy } from '../../src/privacy/index.js';
import { MASTER_KEY_FILE } from '../../src/vault/index.js';
import { controlDialects, newControlTarget, openTarget, removeControlTargets } from '../support/control.js';

// Bytes 1..32, base64: a fixed master key, so the values below were computed before this change (and
// checked against an independent HKDF-SHA256 + HMAC-SHA256: salt "ashpipe", info "ashpipe pii hash v1").
const MASTER = 'AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=';
const HASH_KEY = 'a282c917ae4d8f3f27df773596db23f4a729e00f0240d868c3fd686328623bba';
const HASH_KEY_ID = 'b39966d18fdec414';
/** HMAC of "jane.doe@example.com" (an email is trimmed and lower-cased first). */
const JANE = 'c6cf3122513576db592923fc336da57410e46e2d2267c2469c7fd632fe4d0796';
const OTHER = Buffer.alloc(32, 7).toString('base64');

afterEach(() => removeControlTargets());

describe.each(controlDialects('the PII hash key'))('the PII hash key on %s', (dialect) => {
  it('is the one existing hashes were made with', async () => {
    const target = newControlTarget(dialect);
    const control = await openTarget(target);
    try {
      const env = { ASHPIPE_MASTER_KEY: MASTER };
      const key = await loadHashKey({ home: target.home, env, control });
      expect(key.toString('hex')).toBe(HASH_KEY);
      expect(hashKeyId(key)).toBe(HASH_KEY_ID);
      const pii = await resolvePiiPolicy('default', { home: target.home, env, control });
      expect(pii?.hash('  Jane.Doe@Example.com ', 'email')).toBe(JANE);
    } finally {
      await control.close();
    }
  });

  it('is the same in every process on the store; another key, or none, is refused', async () => {
    const first = newControlTarget(dialect);
    // A second worker: its own home, the same store (on SQLite the same home, as there is no other way).
    const second = dialect === 'postgres' ? newControlTarget(dialect) : first;
    const store = (home: string) => ({ ...(first.url ? { url: first.url } : {}), home });
    const [a, b] = await Promise.all([
      openTarget({ ...first, ...store(first.home) }),
      openTarget({ ...first, ...store(second.home) }),
    ]);
    try {
      const env = { ASHPIPE_MASTER_KEY: MASTER };
      const load = [
        () => loadHashKey({ home: first.home, env, control: a }),
        () => loadHashKey({ home: second.home, env, control: b }),
      ];
      // Together on PostgreSQL (two pools race to pin the fingerprint); one after the other on SQLite,
      // whose two connections in one thread would wait on each other's write lock.
      const keys: Buffer[] = [];
      if (dialect === 'postgres') keys.push(...(await Promise.all(load.map((f) => f()))));
      else for (const f of load) keys.push(await f());
      expect(keys.map((k) => k.toString('hex'))).toEqual([HASH_KEY, HASH_KEY]);
      await expect(
        loadHashKey({ home: second.home, env: { ASHPIPE_MASTER_KEY: OTHER }, control: b }),
      ).rejects.toThrow(/sealed with another master key/);
      // A worker with no key at all is refused, and is not given a key of its own.
      const bare = newControlTarget(dialect);
      await expect(loadHashKey({ home: bare.home, env: {}, control: b })).rejects.toThrow(
        /master key is missing/,
      );
      expect(fs.existsSync(path.join(bare.home, MASTER_KEY_FILE))).toBe(false);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('without an open store, uses the one ASHPIPE_CONTROL_URL names (else control.db)', async () => {
    const target = newControlTarget(dialect);
    const env = { ASHPIPE_MASTER_KEY: MASTER, ...(target.url ? { ASHPIPE_CONTROL_URL: target.url } : {}) };
    expect((await loadHashKey({ home: target.home, env })).toString('hex')).toBe(HASH_KEY);
    expect(fs.existsSync(path.join(target.home, 'control.db'))).toBe(dialect === 'sqlite');
    // The fingerprint went to that store: another key is refused there.
    const control = await openTarget(target);
    try {
      await expect(
        loadHashKey({ home: target.home, env: { ASHPIPE_MASTER_KEY: OTHER }, control }),
      ).rejects.toThrow(/sealed with another master key/);
    } finally {
      await control.close();
    }
  });
});
