/**
 * Redaction masks secrets exactly and never changes data: records that look like credentials pass every
 * output path, the quarantine and a replay into Ashby unchanged, while registered secrets are masked in
 * every spelling they are accepted in.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import { openControl } from '../../src/control/open.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { Logger } from '../../src/util/logger.js';
import { clearSecrets, redact, safeStringify } from '../../src/util/redact.js';
import { loadMasterKey } from '../../src/vault/master-key.js';
import { cli, removeAll, tempDir, uniqueEmail } from '../push/helpers.js';

/** Names a redactor matching "Basic …" / "Bearer …" anywhere would mangle. */
const LOOKALIKES = [
  'Basic Knowledge Training',
  'Bearer Instrumentation Cooperative',
  'Token Economics Reading Group',
  'Authorization Matrix Reviewer',
];

describe('redaction masks secrets, not text that looks like them', () => {
  afterEach(() => clearSecrets());

  it('leaves names like "Basic Knowledge Training" unchanged in redact, safeStringify and log lines', () => {
    const lines: string[] = [];
    const logger = new Logger({ level: 'debug', sink: (l) => lines.push(l) });
    for (const name of LOOKALIKES) {
      expect(redact(name)).toBe(name);
      expect(JSON.parse(safeStringify({ name, token: name }))).toEqual({ name, token: name });
      logger.info('record', { name });
    }
    expect(lines.map((l) => (JSON.parse(l) as { name: string }).name)).toEqual(LOOKALIKES);
  });

  it('still masks Authorization header values in a raw header, JSON, logfmt and an inspected object', () => {
    const value = Buffer.from('some-unregistered-key:').toString('base64');
    expect(redact(`Authorization: Basic ${value}`)).toBe('Authorization: Basic [REDACTED]');
    expect(redact(`{"authorization":"Bearer ${value}"}`)).toBe('{"authorization":"Bearer [REDACTED]"}');
    expect(redact(`proxy-authorization=Basic ${value} next=1`)).toBe(
      'proxy-authorization=Basic [REDACTED] next=1',
    );
    expect(redact(`{ Authorization: '${value}' }`)).toBe("{ Authorization: '[REDACTED]' }");
  });

  it('masks a master key given without its base64 padding, in every accepted spelling', async () => {
    const cleanup: string[] = [];
    try {
      const home = tempDir(cleanup);
      const control = await openControl({ home });
      // 32 bytes whose base64 ends in one '=': the unpadded form is accepted as the same key.
      const key = randomBytes(32);
      const padded = key.toString('base64');
      const unpadded = padded.replace(/=+$/, '');
      expect(unpadded).not.toBe(padded);
      try {
        await loadMasterKey(control, { home, env: { ASHPIPE_MASTER_KEY: unpadded } });
      } finally {
        await control.close();
      }
      for (const spelling of [unpadded, padded, encodeURIComponent(padded), key.toString('base64url')]) {
        const out = redact(`master key is ${spelling} here`);
        expect(out, spelling).not.toContain(spelling);
        expect(out).toContain('[REDACTED]');
      }
    } finally {
      removeAll(cleanup);
    }
  });

  it('masks an API key given with surrounding white space in the form it is used in', async () => {
    const { registerSecret } = await import('../../src/util/redact.js');
    registerSecret('  padded-api-key-0001\n');
    expect(redact('key=padded-api-key-0001;')).toBe('key=[REDACTED];');
  });
});

describe('quarantine payloads are the records as read', () => {
  const canary = `canary-${randomBytes(12).toString('hex')}`;
  let sandbox: Sandbox;
  const cleanup: string[] = [];
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    sandbox = await startSandbox({
      scale: 10,
      keys: [{ key: canary, title: 'Canary', scopes: [...ALL_SCOPES], confidential: true }],
    });
  });
  afterAll(() => sandbox.close());
  beforeEach(() => {
    dir = tempDir(cleanup);
    env = { ASHPIPE_HOME: path.join(dir, 'home'), ASHBY_TEST_KEY: canary };
    sandbox.faults.reset();
  });
  afterEach(() => removeAll(cleanup));
  const keyArgs = () => ['--api-key-env', 'ASHBY_TEST_KEY', '--base-url', sandbox.url];

  it('a candidate named "Basic Knowledge Training" is quarantined, listed, exported and replayed into Ashby unchanged', async () => {
    const emails = LOOKALIKES.map(() => uniqueEmail('lookalike'));
    const input = path.join(dir, 'lookalikes.jsonl');
    fs.writeFileSync(
      input,
      LOOKALIKES.map((name, i) => JSON.stringify({ name, email: emails[i] })).join('\n'),
    );
    // Ashby refuses every record once: each goes to the quarantine as it was read.
    sandbox.faults.set({
      failEndpoints: { 'candidate.create': { status: 200, code: 'invalid_input', times: LOOKALIKES.length } },
    });
    const first = await cli(
      ['push', ...keyArgs(), '--endpoint', 'candidate.create', '--input', input, '--concurrency', '1'],
      env,
    );
    expect(first.code).toBe(3);
    sandbox.faults.reset();

    const listed = JSON.parse((await cli(['quarantine', 'list', '--json'], env)).out) as Array<{
      id: number;
      raw: { name: string; email: string };
    }>;
    expect(listed.map((e) => e.raw.name).sort()).toEqual([...LOOKALIKES].sort());
    const exported = path.join(dir, 'records.jsonl');
    expect((await cli(['quarantine', 'export', '--records-only', '--out', exported], env)).code).toBe(0);
    const records = fs
      .readFileSync(exported, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { name: string }).name);
    expect(records.sort()).toEqual([...LOOKALIKES].sort());

    const replay = await cli(['quarantine', 'replay', ...keyArgs(), ...listed.map((e) => String(e.id))], env);
    expect(replay.code).toBe(0);
    const candidates = sandbox.records('candidate.list') as Array<{
      name: string;
      primaryEmailAddress?: { value: string };
    }>;
    for (const [i, name] of LOOKALIKES.entries()) {
      const created = candidates.find((c) => c.primaryEmailAddress?.value === emails[i]);
      expect(created?.name, name).toBe(name);
    }
  });
});
