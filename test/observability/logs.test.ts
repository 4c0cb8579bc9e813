import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import { Logger } from '../../src/observability/logger.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { registerSecret } from '../../src/util/redact.js';
import { runCli } from '../support/cli.js';

/** An API key that must never be seen: not in a line, not in a file, not in any spelling. */
const CANARY = 'canary-key-4f1d9a7e0b2c';
const spellings = [
  CANARY,
  Buffer.from(`${CANARY}:`).toString('base64'),
  Buffer.from(`${CANARY}:`).toString('base64').replace(/=+$/, ''),
];

function expectNoCanary(text: string): void {
  for (const s of spellings) expect(text).not.toContain(s);
}

/** Each line of `text` as a JSON object (throws on a line that is not one). */
function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const v: unknown = JSON.parse(l);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`not an object: ${l}`);
      return v as Record<string, unknown>;
    });
}

describe('structured logs', () => {
  it('writes one JSON object per line, at its level, with its bindings, and masks the key in every field', () => {
    registerSecret(CANARY);
    const lines: string[] = [];
    const log = new Logger(
      { level: 'info', sink: (l) => lines.push(l) },
      { command: 'test', runId: 'run-1' },
    );
    const flow = log.child({ flowId: 'flow-1' });
    flow.debug('not written at info');
    flow.info(`calling with ${CANARY}`, {
      apiKey: 'a-secret-field-value',
      header: `Authorization: Basic ${Buffer.from(`${CANARY}:`).toString('base64')}`,
      nested: { deep: [CANARY] },
    });
    flow.warn('rate limited', { endpoint: 'candidate.list' });
    flow.error('failed', { error: new Error(`refused ${CANARY}`) });

    expect(lines).toHaveLength(3);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.map((p) => p.level)).toEqual(['info', 'warn', 'error']);
    for (const p of parsed) {
      expect(p).toMatchObject({ command: 'test', runId: 'run-1', flowId: 'flow-1' });
      expect(new Date(String(p.time)).toISOString()).toBe(p.time);
    }
    expect(parsed[0]).toMatchObject({ msg: 'calling with [REDACTED]', apiKey: '[REDACTED]' });
    expect(parsed[0]?.nested).toEqual({ deep: ['[REDACTED]'] });
    expect(parsed[1]).toMatchObject({ msg: 'rate limited', endpoint: 'candidate.list' });
    expect(parsed[2]?.error).toBe('refused [REDACTED]');
    expectNoCanary(lines.join('\n'));
    expect(lines.join('\n')).not.toContain('a-secret-field-value');
  });
});

describe('--log-format', () => {
  let sandbox: Sandbox;
  let dir: string;
  beforeAll(async () => {
    sandbox = await startSandbox({
      port: 0,
      scale: 30,
      keys: [{ key: CANARY, title: 'Canary', scopes: ALL_SCOPES, confidential: true }],
    });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-logs-'));
  });
  afterAll(async () => {
    await sandbox.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const env = (home: string): NodeJS.ProcessEnv => ({
    ASHBY_API_KEY: CANARY,
    ASHPIPE_HOME: path.join(dir, home),
    ASHPIPE_MASTER_KEY: Buffer.alloc(32, 3).toString('base64'),
    ASHPIPE_LOG_LEVEL: 'debug',
  });

  it('json: every line on stderr is a JSON object with the run id, the key never shows', async () => {
    sandbox.resetStats();
    const r = await runCli(
      [
        'sync',
        '--base-url',
        sandbox.url,
        '--to',
        `sqlite:${path.join(dir, 'json.db')}`,
        '--streams',
        'sources,jobs',
        '--log-format',
        'json',
      ],
      env('json-home'),
    );
    expect(r.code).toBe(0);
    const lines = jsonLines(r.err);
    expect(lines.length).toBeGreaterThan(3);
    const runId = lines[0]?.runId;
    expect(typeof runId).toBe('string');
    for (const line of lines) {
      expect(line).toMatchObject({ command: 'sync', runId });
      expect(['debug', 'info', 'warn', 'error']).toContain(line.level);
    }
    expect(lines.map((l) => l.msg)).toContain('sync started');
    // Each answer the sandbox gave is one debug line, naming its endpoint and status.
    const answers = lines.filter((l) => l.msg === 'ashby response');
    const seen = Object.values(sandbox.stats().requests).reduce((a, b) => a + b, 0);
    expect(answers).toHaveLength(seen);
    const byEndpoint: Record<string, number> = {};
    for (const l of answers) byEndpoint[String(l.endpoint)] = (byEndpoint[String(l.endpoint)] ?? 0) + 1;
    expect(byEndpoint).toEqual(sandbox.stats().requests);
    expect(answers.every((l) => l.httpStatus === 200)).toBe(true);
    // The run log file holds the same run's lines.
    const file = fs.readFileSync(path.join(dir, 'json-home', 'logs', 'ashpipe.log'), 'utf8');
    const fileLines = jsonLines(file);
    expect(fileLines.filter((l) => l.msg === 'ashby response')).toHaveLength(seen);
    expect(fileLines.filter((l) => l.runId !== runId)).toEqual([]);
    expectNoCanary(r.err + r.out + file);
  }, 60_000);

  it('text (the default): stderr shows the human lines, the run log stays in its file', async () => {
    const r = await runCli(
      [
        'sync',
        '--base-url',
        sandbox.url,
        '--to',
        `sqlite:${path.join(dir, 'text.db')}`,
        '--streams',
        'sources',
      ],
      env('text-home'),
    );
    expect(r.code).toBe(0);
    // The summary as today: text for a person, no JSON lines anywhere.
    expect(r.out).toContain('sources');
    expect(() => jsonLines(r.out)).toThrow();
    expect(r.err + r.out).not.toContain('"runId"');
    const file = jsonLines(fs.readFileSync(path.join(dir, 'text-home', 'logs', 'ashpipe.log'), 'utf8'));
    expect(file.map((l) => l.msg)).toContain('sync started');
    expectNoCanary(r.err + r.out);
  }, 60_000);

  it('refuses an unknown format', async () => {
    const r = await runCli(
      ['sync', '--base-url', sandbox.url, '--to', `sqlite:${path.join(dir, 'x.db')}`, '--log-format', 'xml'],
      env('bad-home'),
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain('--log-format must be one of text, json');
  });
});
