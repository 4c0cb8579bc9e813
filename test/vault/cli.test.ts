import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { Command } from 'commander';
import { Command as CommanderCommand } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import type { CliContext } from '../../src/cli/context.js';
import { UsageError } from '../../src/cli/exit-codes.js';
import { addKeyOptions, resolveAshbyAccess } from '../../src/cli/key-options.js';
import { Output } from '../../src/cli/output.js';
import { captureStreams, runCli } from '../support/cli.js';
import { controlDialects, newControlTarget, removeControlTargets } from '../support/control.js';
import { makeTempHome, removeAll } from './helpers.js';

const cleanup: string[] = [];
afterEach(async () => {
  removeAll(cleanup);
  await removeControlTargets();
});

const KEY = 'ashby-cli-key-0123456789wxyz';

const run = runCli;

function context(env: NodeJS.ProcessEnv): CliContext & { captured: ReturnType<typeof captureStreams> } {
  const io = captureStreams();
  return {
    captured: io,
    io: io.io,
    env,
    stdin: Readable.from([]),
    output: (json) => new Output(io.io, json),
    setExitCode: () => {},
  };
}

describe.each(controlDialects('ashpipe credentials on PostgreSQL'))(
  'ashpipe credentials on %s',
  (dialect) => {
    it('adds from stdin, lists, shows, edits, audits and deletes, never printing the key', async () => {
      const target = newControlTarget(dialect);
      // On PostgreSQL: `--control` on the first command, ASHPIPE_CONTROL_URL for the others.
      const env: NodeJS.ProcessEnv = { ASHPIPE_HOME: target.home };
      const control = target.url === undefined ? [] : ['--control', target.url];
      const add = await run(
        [
          'credentials',
          ...control,
          'add',
          '--name',
          'prod',
          '--description',
          'nightly',
          '--api-key-stdin',
          '--no-verify',
          '--json',
        ],
        env,
        Readable.from([`${KEY}\n`]),
      );
      expect(add.code, add.err).toBe(0);
      const saved = JSON.parse(add.out);
      expect(saved).toMatchObject({
        name: 'prod',
        description: 'nightly',
        maskedKey: '••••wxyz',
        status: 'unverified',
      });
      expect(add.err).toMatch(/master\.key/);
      if (target.url !== undefined) env.ASHPIPE_CONTROL_URL = target.url;

      const list = await run(['credentials', 'list', '--json'], env);
      expect(JSON.parse(list.out).credentials.map((c: { id: string }) => c.id)).toEqual([saved.id]);
      const table = await run(['credentials', 'list'], env);
      expect(table.out).toMatch(/prod\s+••••wxyz\s+unverified/);

      const edit = await run(['credentials', 'edit', 'prod', '--name', 'production'], env);
      expect(edit.code, edit.err).toBe(0);
      const show = await run(['credentials', 'show', 'production', '--json'], env);
      expect(JSON.parse(show.out)).toMatchObject({ id: saved.id, name: 'production' });

      const refused = await run(['credentials', 'delete', 'production'], env);
      expect(refused.code).toBe(2);
      expect(refused.err).toMatch(/without --yes/);
      const del = await run(['credentials', 'delete', 'production', '--yes'], env);
      expect(del.code, del.err).toBe(0);
      const missing = await run(['credentials', 'show', 'production'], env);
      expect(missing.code).toBe(2);
      expect(missing.err).toMatch(/no credential named "production"/);

      const audit = await run(['credentials', 'audit', '--json'], env);
      expect(JSON.parse(audit.out).entries.map((e: { action: string }) => e.action)).toEqual([
        'create',
        'edit',
        'delete',
      ]);
      for (const r of [add, list, table, edit, show, del, audit]) expect(r.out + r.err).not.toContain(KEY);
      // Nothing went to a control.db beside the PostgreSQL store.
      expect(fs.existsSync(path.join(target.home, 'control.db'))).toBe(dialect === 'sqlite');
    });

    it('a command with --credential decrypts the key from the same store, and audits the use', async () => {
      const target = newControlTarget(dialect);
      const env: NodeJS.ProcessEnv = {
        ASHPIPE_HOME: target.home,
        ...(target.url === undefined ? {} : { ASHPIPE_CONTROL_URL: target.url }),
      };
      const add = await run(
        [
          'credentials',
          'add',
          '--name',
          'sb',
          '--api-key-stdin',
          '--no-verify',
          '--base-url',
          'http://127.0.0.1:4010',
        ],
        env,
        Readable.from([KEY]),
      );
      expect(add.code, add.err).toBe(0);
      const access = await resolveAshbyAccess(context(env), { credential: 'sb' }, 'sync');
      expect(access).toMatchObject({ apiKey: KEY, baseUrl: 'http://127.0.0.1:4010', credentialName: 'sb' });
      const audit = await run(['credentials', 'audit', 'sb', '--json'], env);
      expect(JSON.parse(audit.out).entries.map((e: { action: string }) => e.action)).toEqual([
        'create',
        'use',
      ]);
      expect(fs.existsSync(path.join(target.home, 'control.db'))).toBe(dialect === 'sqlite');
    });
  },
);

describe('ashpipe credentials (without verification)', () => {
  it('has no flag that takes the key itself', async () => {
    const env = { ASHPIPE_HOME: makeTempHome(cleanup) };
    const r = await run(['credentials', 'add', '--name', 'x', '--api-key', KEY, '--no-verify'], env);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown option/);
    expect(fs.existsSync(path.join(env.ASHPIPE_HOME, 'master.key'))).toBe(false);
  });

  it('reads the key from a hidden terminal prompt without echoing it', async () => {
    const env = { ASHPIPE_HOME: makeTempHome(cleanup) };
    const raw: boolean[] = [];
    const tty = Object.assign(new PassThrough(), { isTTY: true, setRawMode: (m: boolean) => raw.push(m) });
    setTimeout(() => tty.write(`${KEY}\r`), 10);
    const r = await run(['credentials', 'add', '--name', 'typed', '--no-verify'], env, tty);
    expect(r.code, r.err).toBe(0);
    expect(raw).toEqual([true, false]);
    expect(r.err).toContain('input hidden');
    expect(r.out + r.err).not.toContain(KEY);
    const ctx = context(env);
    const access = await resolveAshbyAccess(ctx, { credential: 'typed' }, 'sync');
    expect(access.apiKey).toBe(KEY);
  });

  it('asks on a terminal before deleting, and deletes only when the name is typed back', async () => {
    const env = { ASHPIPE_HOME: makeTempHome(cleanup) };
    await run(
      ['credentials', 'add', '--name', 'prod', '--api-key-stdin', '--no-verify'],
      env,
      Readable.from([KEY]),
    );
    const tty = (answer: string) => {
      const s = Object.assign(new PassThrough(), { isTTY: true });
      setTimeout(() => s.write(`${answer}\n`), 10);
      return s;
    };
    const no = await run(['credentials', 'delete', 'prod'], env, tty('yes'));
    expect(no.code).toBe(1);
    expect(no.err).toMatch(/Type its name to confirm/);
    expect(JSON.parse((await run(['credentials', 'list', '--json'], env)).out).credentials).toHaveLength(1);
    const yes = await run(['credentials', 'delete', 'prod'], env, tty('prod'));
    expect(yes.code, yes.err).toBe(0);
    expect(JSON.parse((await run(['credentials', 'list', '--json'], env)).out).credentials).toHaveLength(0);
  });

  it('refuses to run without a key source when not on a terminal', async () => {
    const env = { ASHPIPE_HOME: makeTempHome(cleanup) };
    const r = await run(['credentials', 'add', '--name', 'x', '--no-verify'], env);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--api-key-stdin/);
  });
});

describe('key resolution for commands that call Ashby', () => {
  it('adds --credential, --api-key-env and --base-url, and nothing that takes a key', () => {
    const cmd: Command = addKeyOptions(new CommanderCommand('sync'));
    const flags = cmd.options.map((o) => o.long);
    expect(flags).toEqual(['--credential', '--api-key-env', '--base-url']);
  });

  it('reads ASHBY_API_KEY by default and the named variable with --api-key-env', async () => {
    const ctx = context({
      ASHBY_API_KEY: KEY,
      OTHER: 'other-key-123456',
      ASHBY_BASE_URL: 'http://127.0.0.1:9/',
    });
    expect(await resolveAshbyAccess(ctx, {}, 'sync')).toEqual({ apiKey: KEY, baseUrl: 'http://127.0.0.1:9' });
    const other = await resolveAshbyAccess(ctx, { apiKeyEnv: 'OTHER', baseUrl: 'https://x.example' }, 'sync');
    expect(other).toEqual({ apiKey: 'other-key-123456', baseUrl: 'https://x.example' });
  });

  it('throws a usage error when no key is available or the sources conflict', async () => {
    const ctx = context({});
    await expect(resolveAshbyAccess(ctx, {}, 'sync')).rejects.toThrow(UsageError);
    await expect(resolveAshbyAccess(ctx, { apiKeyEnv: 'NOPE' }, 'sync')).rejects.toThrow(/NOPE is not set/);
    await expect(resolveAshbyAccess(ctx, { credential: 'a', apiKeyEnv: 'B' }, 'sync')).rejects.toThrow(
      UsageError,
    );
    await expect(
      resolveAshbyAccess(context({ ASHBY_API_KEY: KEY }), { baseUrl: 'ftp://x' }, 'sync'),
    ).rejects.toThrow(/--base-url must be an http/);
    const home = makeTempHome(cleanup);
    const noVault = context({ ASHPIPE_HOME: home });
    await expect(resolveAshbyAccess(noVault, { credential: 'prod' }, 'sync')).rejects.toThrow(
      /there is no vault/,
    );
    expect(fs.existsSync(home)).toBe(false);
  });

  it('decrypts a stored credential, audits the use with its purpose, and uses its server', async () => {
    const env = { ASHPIPE_HOME: makeTempHome(cleanup) };
    await run(
      [
        'credentials',
        'add',
        '--name',
        'sb',
        '--api-key-stdin',
        '--no-verify',
        '--base-url',
        'http://127.0.0.1:4010',
      ],
      env,
      Readable.from([KEY]),
    );
    const ctx = context(env);
    const access = await resolveAshbyAccess(ctx, { credential: 'sb' }, 'sync');
    expect(access).toMatchObject({ apiKey: KEY, baseUrl: 'http://127.0.0.1:4010', credentialName: 'sb' });
    expect(access.credentialId).toMatch(/^cred_/);
    const audit = await run(['credentials', 'audit', 'sb', '--json'], env);
    expect(JSON.parse(audit.out).entries.at(-1)).toMatchObject({ action: 'use', purpose: 'sync' });
    await expect(resolveAshbyAccess(ctx, { credential: 'nope' }, 'sync')).rejects.toThrow(
      /no credential named "nope"/,
    );
  });
});
