import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type Envelope, fingerprintMasterKey, openApiKey, sealApiKey } from '../../src/vault/crypto.js';

const master = randomBytes(32);
const flip = (b: Buffer, i = 0) => {
  const c = Buffer.from(b);
  c[i] = (c[i] ?? 0) ^ 0x01;
  return c;
};

describe('envelope encryption', () => {
  it('round-trips an API key, with fresh data key and IVs each time', () => {
    const a = sealApiKey(master, 'cred_1', 'ashby-key-0123456789');
    const b = sealApiKey(master, 'cred_1', 'ashby-key-0123456789');
    expect(openApiKey(master, 'cred_1', a, 'prod')).toBe('ashby-key-0123456789');
    expect(a.key.iv.length).toBe(12);
    expect(a.key.iv.equals(b.key.iv)).toBe(false);
    expect(a.key.ciphertext.equals(b.key.ciphertext)).toBe(false);
    expect(a.dataKey.ciphertext.equals(b.dataKey.ciphertext)).toBe(false);
    expect(a.key.ciphertext.includes(Buffer.from('ashby-key'))).toBe(false);
  });

  const tampers: Array<[string, (e: Envelope) => Envelope]> = [
    ['ciphertext', (e) => ({ ...e, key: { ...e.key, ciphertext: flip(e.key.ciphertext, 3) } })],
    ['IV', (e) => ({ ...e, key: { ...e.key, iv: flip(e.key.iv) } })],
    ['tag', (e) => ({ ...e, key: { ...e.key, tag: flip(e.key.tag, 15) } })],
    [
      'wrapped data key',
      (e) => ({ ...e, dataKey: { ...e.dataKey, ciphertext: flip(e.dataKey.ciphertext) } }),
    ],
    ['data key IV', (e) => ({ ...e, dataKey: { ...e.dataKey, iv: flip(e.dataKey.iv) } })],
    ['data key tag', (e) => ({ ...e, dataKey: { ...e.dataKey, tag: flip(e.dataKey.tag) } })],
    ['truncated tag', (e) => ({ ...e, key: { ...e.key, tag: e.key.tag.subarray(0, 8) } })],
  ];
  for (const [what, tamper] of tampers) {
    it(`detects a tampered ${what}`, () => {
      const sealed = tamper(sealApiKey(master, 'cred_1', 'ashby-key-0123456789'));
      expect(() => openApiKey(master, 'cred_1', sealed, 'prod')).toThrow(/"prod" could not be decrypted/);
    });
  }

  it('refuses an envelope moved to another credential id', () => {
    const sealed = sealApiKey(master, 'cred_1', 'ashby-key-0123456789');
    expect(() => openApiKey(master, 'cred_2', sealed, 'other')).toThrow(/belongs to another credential/);
  });

  it('refuses another master key', () => {
    const sealed = sealApiKey(master, 'cred_1', 'ashby-key-0123456789');
    expect(() => openApiKey(randomBytes(32), 'cred_1', sealed, 'prod')).toThrow(/could not be decrypted/);
  });

  it('fingerprints master keys without revealing them', () => {
    const fp = fingerprintMasterKey(master);
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(fp).toBe(fingerprintMasterKey(Buffer.from(master)));
    expect(fp).not.toBe(fingerprintMasterKey(randomBytes(32)));
    expect(fp).not.toContain(master.toString('hex'));
  });
});
