/**
 * The PII policy reaches history versions as it reaches the table: the policy runs before the sink, so a
 * version's `_ashpipe_raw` is the transformed record (an address hashed with the policy's key, never the
 * original), on SQLite and PostgreSQL.
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePiiPolicy } from '../../src/privacy/index.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { syncToTarget } from '../../src/sync/index.js';
import { expectedStreamRecords } from '../support/world-oracle.js';
import { makeTarget, POSTGRES_URL, type TestTarget } from '../sync/helpers.js';
import { query, readHistory } from './support.js';

type Rec = Record<string, unknown>;
const DIALECTS: Array<'sqlite' | 'postgres'> = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];
const MASTER = randomBytes(32);
// The key as docs/privacy.md states it: HKDF-SHA256 of the master key, salt "ashpipe", info "ashpipe pii hash v1".
const HASH_KEY = Buffer.from(hkdfSync('sha256', MASTER, 'ashpipe', 'ashpipe pii hash v1', 32));
const hmac = (text: string) => createHmac('sha256', HASH_KEY).update(text).digest('hex');

describe.each(DIALECTS)('history under a PII policy (%s)', (dialect) => {
  let sandbox: Sandbox;
  let t: TestTarget;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-history-pii-'));
  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 20, seed: 43 });
    t = await makeTarget(dialect);
  });
  afterAll(async () => {
    await sandbox?.close();
    await t?.cleanup();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('versions hold the transformed record, never the original address', async () => {
    const pii = await resolvePiiPolicy('default', {
      home,
      env: { ASHPIPE_MASTER_KEY: MASTER.toString('base64') },
    });
    expect(pii).toBeDefined();
    const summary = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams: selectStreams({ streams: ['candidates'] }),
      history: ['candidates'],
      ...(pii ? { piiPolicy: pii } : {}),
    });
    expect(summary.exitCode).toBe(0);
    const h = await readHistory(t.target, 'candidates');
    const rows = await query(t.target, 'SELECT id, "_ashpipe_raw" AS raw FROM candidates');
    const stored = new Map(
      rows.map((r) => [String(r.id), typeof r.raw === 'string' ? JSON.parse(r.raw) : r.raw]),
    );
    const world = expectedStreamRecords(sandbox, 'candidates');
    let checked = 0;
    for (const c of world) {
      const email = (c.primaryEmailAddress as Rec | undefined)?.value;
      if (typeof email !== 'string') continue;
      const version = (h.get(String(c.id)) ?? [])[0];
      if (!version) throw new Error(`no version of ${String(c.id)}`);
      const text = JSON.stringify(version.raw);
      expect(text.includes(email), String(c.id)).toBe(false);
      // Hashed with the policy's key, as in the table (normalised: lower case, trimmed).
      expect((version.raw.primaryEmailAddress as Rec).value).toBe(hmac(email.trim().toLowerCase()));
      expect(version.raw).toEqual(stored.get(String(c.id)));
      checked++;
    }
    expect(checked).toBeGreaterThan(5);
  }, 60_000);
});
