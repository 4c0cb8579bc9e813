/**
 * `ashpipe serve --base-url` (and `ASHBY_BASE_URL`) names the Ashby server that new credentials are
 * checked against unless they name another; the console reads it from the credentials list.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { assertBuilt, BIN } from '../support/built-cli.js';
import { runCli } from '../support/cli.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PASSWORD = 'serve test password';

const homes: string[] = [];
afterEach(() => {
  for (const home of homes.splice(0)) fs.rmSync(home, { recursive: true, force: true });
});

/** Starts `serve` as a child process, logs in and returns the credentials list; then stops it. */
async function serverDefaults(args: string[], env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-serve-'));
  homes.push(home);
  assertBuilt();
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      ASHPIPE_HOME: home,
      ASHPIPE_ADMIN_PASSWORD: PASSWORD,
      ASHPIPE_MASTER_KEY: Buffer.alloc(32, 5).toString('base64'),
      ...env,
    },
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const started = Date.now();
    while (!/listening on (http:\/\/\S+)/.test(output)) {
      if (Date.now() - started > 20_000 || child.exitCode !== null)
        throw new Error(`serve did not start: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const url = /listening on (http:\/\/\S+)/.exec(output)?.[1] as string;
    const login = await fetch(`${url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const listed = await fetch(`${url}/api/v1/credentials`, { headers: { cookie } });
    const body = (await listed.json()) as Record<string, unknown>;
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    return { ...body, output };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

describe('ashpipe serve --base-url', () => {
  it('the flag wins over ASHBY_BASE_URL and becomes the default server of new credentials', async () => {
    const body = await serverDefaults(['--base-url', 'http://127.0.0.1:4010/'], {
      ASHBY_BASE_URL: 'https://ashby.example.com',
    });
    expect(body).toMatchObject({ defaultBaseUrl: 'http://127.0.0.1:4010', allowHttpBaseUrl: true });
    expect(body.output).toContain('checked against http://127.0.0.1:4010');
  }, 60_000);

  it('without the flag, ASHBY_BASE_URL; without either, Ashby itself and https only', async () => {
    expect(await serverDefaults([], { ASHBY_BASE_URL: 'https://ashby.example.com' })).toMatchObject({
      defaultBaseUrl: 'https://ashby.example.com',
      allowHttpBaseUrl: false,
    });
    expect(await serverDefaults([], {})).toMatchObject({
      defaultBaseUrl: 'https://api.ashbyhq.com',
      allowHttpBaseUrl: false,
    });
  }, 60_000);

  it('a base URL that is not an http(s) URL is a usage error (exit 2) naming the flag', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-serve-'));
    homes.push(home);
    const bad = await runCli(['serve', '--port', '0', '--base-url', 'ftp://x'], { ASHPIPE_HOME: home });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--base-url must be an http:// or https:// URL');
    const env = await runCli(['serve', '--port', '0'], { ASHPIPE_HOME: home, ASHBY_BASE_URL: 'not a url' });
    expect(env.code).toBe(2);
    expect(env.err).toContain('ASHBY_BASE_URL is not a valid URL');
  });
});
