import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { sourceEngine } from '../../src/server/engines.js';
import { type Flow, sourceFlowSchema } from '../../src/server/model.js';
import { Logger } from '../../src/util/logger.js';
import { openSqlite } from '../../src/util/sqlite.js';

const MASTER = randomBytes(32);
const HASH_KEY = Buffer.from(hkdfSync('sha256', MASTER, 'ashpipe', 'ashpipe pii hash v1', 32));

describe('options.piiPolicy of a source flow', () => {
  let sandbox: Sandbox;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-flow-pii-'));
  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 20, seed: 9 });
  });
  afterAll(async () => {
    await sandbox?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is none or default in the flow schema', () => {
    const base = {
      kind: 'source',
      name: 'f',
      credentialId: 'c',
      target: { type: 'sqlite', path: path.join(dir, 'x.db') },
    };
    expect(sourceFlowSchema.safeParse({ ...base, options: { piiPolicy: 'default' } }).success).toBe(true);
    expect(
      sourceFlowSchema.safeParse({ ...base, options: { piiPolicy: 'none', fullRefresh: true } }).success,
    ).toBe(true);
    const bad = sourceFlowSchema.safeParse({ ...base, options: { piiPolicy: 'scramble' } });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues[0]?.path)).toBe('["options","piiPolicy"]');
  });

  it('default: the flow stores candidates with their addresses hashed by the home master key', async () => {
    const db = path.join(dir, 'flow.db');
    const config = sourceFlowSchema.parse({
      kind: 'source',
      name: 'pii flow',
      credentialId: 'cred',
      streams: ['candidates'],
      target: { type: 'sqlite', path: db },
      options: { piiPolicy: 'default' },
    });
    const flow = { id: 'f1', name: config.name, kind: 'source', config } as Flow;
    const engine = sourceEngine({ home: dir, env: { ASHPIPE_MASTER_KEY: MASTER.toString('base64') } });
    const outcome = await engine(flow, {
      runId: 'r1',
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      signal: new AbortController().signal,
      logger: new Logger({ level: 'error', sink: () => {} }),
      dryRun: false,
      progress: () => {},
    });
    expect(outcome.status).toBe('succeeded');
    const d = openSqlite(db);
    const rows = d.prepare('SELECT id, _ashpipe_raw AS raw FROM candidates').all() as Array<{
      id: string;
      raw: string;
    }>;
    d.close();
    const world = new Map(
      (sandbox.records('candidate.list') as Array<Record<string, unknown>>).map((c) => [String(c.id), c]),
    );
    let checked = 0;
    for (const row of rows) {
      const email = (world.get(row.id)?.primaryEmailAddress as { value?: string } | undefined)?.value;
      if (!email) continue;
      const stored = JSON.parse(row.raw) as { primaryEmailAddress: { value: string } };
      expect(stored.primaryEmailAddress.value).toBe(
        createHmac('sha256', HASH_KEY).update(email.toLowerCase()).digest('hex'),
      );
      checked += 1;
    }
    expect(checked).toBeGreaterThan(0);
  });
});
