import { afterEach, describe, expect, it } from 'vitest';
import { clearSecrets, redact, redactDeep, registerSecret, safeStringify } from '../../src/util/redact.js';

const CANARY = 'canary-key-7f3a9c1e5b';

describe('redact', () => {
  afterEach(() => clearSecrets());

  it('masks a registered key in plain, Basic-auth, URL-encoded and JSON-escaped forms', () => {
    registerSecret(CANARY);
    const basic = Buffer.from(`${CANARY}:`).toString('base64');
    const text = `key=${CANARY} auth=${basic} url=${encodeURIComponent(CANARY)}`;
    const out = redact(text);
    expect(out).not.toContain(CANARY);
    expect(out).not.toContain(basic);
    expect(out).toContain('[REDACTED]');
  });

  it('masks Authorization header values even for keys it was never told about', () => {
    expect(redact('Authorization: Basic dW5rbm93bi1rZXk6')).toBe('Authorization: Basic [REDACTED]');
  });

  it('masks fields named like secrets and leaves other data intact', () => {
    const out = redactDeep({
      name: 'prod',
      apiKey: 'whatever-123',
      nested: [{ password: 'hunter22' }],
      n: 3,
    });
    expect(out).toEqual({ name: 'prod', apiKey: '[REDACTED]', nested: [{ password: '[REDACTED]' }], n: 3 });
  });

  it('safeStringify never emits a registered secret', () => {
    registerSecret(CANARY);
    expect(safeStringify({ message: `failed for ${CANARY}` })).not.toContain(CANARY);
  });

  it('ignores secrets too short to mask safely', () => {
    registerSecret('abc');
    expect(redact('abc')).toBe('abc');
  });
});
