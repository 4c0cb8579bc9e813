import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { startHttpReceiver } from '../support/alert-receivers.js';
import { runCli } from '../support/cli.js';
import { createApiToken, tokenClient } from '../support/server-token.js';

const PASSWORD = 'a long enough admin password';
const CANARY = `canary-${randomBytes(12).toString('hex')}`;

type Rec = Record<string, unknown>;

describe('ashpipe apply and export (flows as code)', () => {
  let sandbox: Sandbox;
  let server: RunningServer;
  let home: string;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let token: string;

  const { api } = tokenClient(() => ({ url: server.url, token }));
  const flows = async () => (await api('GET', '/flows')).flows as Rec[];
  const flowNamed = async (name: string) => (await flows()).find((f) => f.name === name);
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };
  const apply = (...args: string[]) => runCli(['apply', ...args], env);

  beforeAll(async () => {
    sandbox = await startSandbox({
      scale: 50,
      keys: [{ key: CANARY, title: 'Canary', scopes: [...ALL_SCOPES], confidential: true }],
    });
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-apply-'));
    dir = path.join(home, 'data');
    fs.mkdirSync(dir, { recursive: true });
    server = await startServer({
      home,
      env: { ASHPIPE_ADMIN_PASSWORD: PASSWORD },
      serviceOptions: { baseUrl: sandbox.url },
      port: 0,
      host: '127.0.0.1',
    });
    token = await createApiToken(server.url, PASSWORD);
    env = {
      ASHPIPE_SERVER: server.url,
      ASHPIPE_API_TOKEN: token,
      ASHPIPE_HOME: home,
      ASHBY_SANDBOX_KEY: CANARY,
    };
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await sandbox?.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const FILE = (schedule: string, history: string, extra = '') => `version: 1
credentials:
  - name: Sandbox
    description: The sandbox's full-access key
    apiKeyEnv: ASHBY_SANDBOX_KEY
flows:
  - name: Candidates to SQLite
    kind: source
    credential: Sandbox
    schedule: "${schedule}"
    streams: [candidates, applications]
    target: { type: sqlite, path: ${JSON.stringify(path.join('DATA', 'ashby.db'))} }
    options:
      history: ${history}
      onDelete: purge
  - name: Load candidates
    kind: destination
    credential: Sandbox
    active: false
    operation: candidate.create
    input: { type: csv, path: ${JSON.stringify(path.join('DATA', 'in.csv'))} }
    mapping: { name: Full Name, email: Email }
${extra}`;
  const file = (schedule: string, history: string, extra = '') =>
    FILE(schedule, history, extra).replaceAll('DATA', dir);

  it('plans without changing anything, creates on apply, and a second apply changes nothing', async () => {
    fs.writeFileSync(path.join(dir, 'in.csv'), 'Full Name,Email\nAda Lovelace,ada@example.com\n');
    const f = write('ashpipe.yaml', file('0 * * * *', '[applications]'));
    const dry = await apply('-f', f, '--dry-run');
    expect(dry.err).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.out.split('\n').filter(Boolean)).toEqual([
      '  + credential "Sandbox" (key from $ASHBY_SANDBOX_KEY)',
      '  + flow "Candidates to SQLite" (source, credential "Sandbox", "0 * * * *")',
      '  + flow "Load candidates" (destination, credential "Sandbox", manual, paused)',
      'Plan: 3 to create, 0 to change, 0 to delete, 0 unchanged.',
    ]);
    expect((await api('GET', '/credentials')).credentials).toEqual([]);
    expect(await flows()).toEqual([]);

    const first = await apply('-f', f);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toContain('Applied: 3 to create, 0 to change, 0 to delete, 0 unchanged.');
    const [credential] = (await api('GET', '/credentials')).credentials as Rec[];
    expect(credential).toMatchObject({
      name: 'Sandbox',
      description: "The sandbox's full-access key",
      status: 'verified',
    });
    const source = await flowNamed('Candidates to SQLite');
    expect(source).toMatchObject({
      kind: 'source',
      status: 'active',
      schedule: '0 * * * *',
      credentialId: credential?.id,
    });
    expect(source?.config).toEqual({
      kind: 'source',
      name: 'Candidates to SQLite',
      credentialId: credential?.id,
      schedule: '0 * * * *',
      streams: ['candidates', 'applications'],
      target: { type: 'sqlite', path: path.join(dir, 'ashby.db') },
      options: { history: ['applications'], onDelete: 'purge', managedBy: 'ashpipe.yaml' },
    });
    const destination = await flowNamed('Load candidates');
    expect(destination).toMatchObject({ kind: 'destination', status: 'paused', schedule: null });
    expect(destination?.config).toMatchObject({
      operation: 'candidate.create',
      mapping: { name: 'Full Name', email: 'Email' },
      options: { managedBy: 'ashpipe.yaml' },
    });

    const again = await apply('-f', f);
    expect(again.code).toBe(0);
    expect(again.out.trim()).toBe('No changes: the server matches the file (3 unchanged).');
    expect((await flowNamed('Candidates to SQLite'))?.updatedAt).toBe(source?.updatedAt);
    // The key was read from the environment and went to the server only.
    for (const text of [dry.out, dry.err, first.out, first.err, again.out, fs.readFileSync(f, 'utf8')])
      expect(text).not.toContain(CANARY);
  });

  it('shows and applies a change field by field, and pauses and resumes', async () => {
    const f = write('ashpipe.yaml', file('30 2 * * *', 'all').replace('active: false', 'active: true'));
    const dry = await apply('-f', f, '--dry-run');
    expect(dry.out.split('\n').filter(Boolean)).toEqual([
      '  ~ flow "Candidates to SQLite": options.history ["applications"] → "all"; schedule "0 * * * *" → "30 2 * * *"',
      '  ~ flow "Load candidates": activate',
      'Plan: 0 to create, 2 to change, 0 to delete, 1 unchanged.',
    ]);
    const done = await apply('-f', f);
    expect(done.code, done.err).toBe(0);
    expect(done.err).toMatch(
      /^changed flow "Candidates to SQLite" \(.+\)\nchanged flow "Load candidates" \(.+\)\n$/,
    );
    expect(await flowNamed('Candidates to SQLite')).toMatchObject({
      schedule: '30 2 * * *',
      config: { options: { history: 'all' } },
    });
    expect((await flowNamed('Load candidates'))?.status).toBe('active');
    expect((await apply('-f', f)).out.trim()).toBe('No changes: the server matches the file (3 unchanged).');
  });

  it('adopts a flow made in the console, keeps unlisted flows without --prune and deletes only its own with it', async () => {
    const credentialId = (((await api('GET', '/credentials')).credentials as Rec[])[0] as Rec).id;
    const consoleFlow = {
      kind: 'source',
      name: 'Made in the console',
      credentialId,
      streams: ['jobs'],
      target: { type: 'jsonl', path: path.join(dir, 'console-out') },
    };
    await api('POST', '/flows', consoleFlow);
    await api('POST', '/flows', { ...consoleFlow, name: 'Adopt me' });
    const extra = `  - name: Adopt me
    kind: source
    credential: Sandbox
    active: false
    streams: [jobs]
    target: { type: jsonl, path: ${JSON.stringify(path.join(dir, 'console-out'))} }
`;
    // The destination flow is left out of the file: it was the file's, so --prune may delete it.
    const text = file('30 2 * * *', 'all', extra).replace(
      / {2}- name: Load candidates[\s\S]*?(?= {2}- name: Adopt me)/,
      '',
    );
    const f = write('ashpipe.yaml', text);
    const dry = await apply('-f', f, '--dry-run');
    expect(dry.out.split('\n').filter(Boolean)).toEqual([
      '  ~ flow "Adopt me": now managed by the file',
      '  · flow "Load candidates" is no longer in the file; kept (--prune deletes it)',
      'Plan: 0 to create, 1 to change, 0 to delete, 2 unchanged.',
    ]);
    expect((await apply('-f', f)).code).toBe(0);
    expect((await flowNamed('Adopt me'))?.config).toMatchObject({ options: { managedBy: 'ashpipe.yaml' } });
    expect(await flowNamed('Load candidates')).toBeDefined();
    const pruned = await apply('-f', f, '--prune');
    expect(pruned.out).toContain('  - flow "Load candidates"');
    expect(pruned.out).toContain('Applied: 0 to create, 0 to change, 1 to delete, 3 unchanged.');
    expect((await flows()).map((x) => x.name).sort()).toEqual([
      'Adopt me',
      'Candidates to SQLite',
      'Made in the console',
    ]);
  });

  it('exports the setup as a file that applies with nothing to change but adoption', async () => {
    const out = path.join(dir, 'exported.yaml');
    const exported = await runCli(['export', '-f', out], env);
    expect(exported.code, exported.err).toBe(0);
    const text = fs.readFileSync(out, 'utf8');
    expect(text).not.toContain(CANARY);
    expect(text).toContain('apiKeyEnv: ASHBY_KEY_SANDBOX');
    expect(text).not.toContain('managedBy');
    const plan = await apply('-f', out, '--dry-run');
    expect(plan.code, plan.err).toBe(0);
    // Flows the yaml manages are another file's; the console-made flow is adopted; nothing else differs.
    expect(plan.out.split('\n').filter(Boolean)).toEqual([
      '  ~ flow "Candidates to SQLite": now managed by the file',
      '  ~ flow "Made in the console": now managed by the file',
      '  ~ flow "Adopt me": now managed by the file',
      'Plan: 0 to create, 3 to change, 0 to delete, 1 unchanged.',
    ]);
    expect((await runCli(['export', '-f', out], env)).code).toBe(2);
  });

  it('refuses a file with problems, naming each by line and field, before touching the server', async () => {
    const before = await flows();
    const f = write(
      'broken.yaml',
      `version: 1
credentials:
  - name: Other
    apiKey: ${CANARY}
flows:
  - name: No target
    kind: source
    credential: Sandbox
  - name: Bad kind
    kind: sideways
    credential: Sandbox
  - name: No target
    kind: destination
    credential: Sandbox
    input: { type: csv, path: x.csv }
    options: { histroy: all }
`,
    );
    const res = await apply('-f', f);
    expect(res.code).toBe(2);
    expect(res.err).not.toContain(CANARY);
    expect(res.err).toContain('broken.yaml has 5 problems:');
    expect(res.err).toContain("broken.yaml:3:5 credentials[0]: Unrecognized key(s) in object: 'apiKey'");
    expect(res.err).toContain('broken.yaml:6:5 flows[0].target: Required');
    expect(res.err).toMatch(/broken\.yaml:10:11 flows\[1\]\.kind: Invalid discriminator value/);
    expect(res.err).toContain(
      'broken.yaml:12:5 flows[2].operation: choose an operation template or an endpoint',
    );
    expect(res.err).toContain("broken.yaml:16:14 flows[2].options: Unrecognized key(s) in object: 'histroy'");
    expect(await flows()).toEqual(before);

    // Names are checked once the entries themselves are right.
    const twice = await apply(
      '-f',
      write(
        'twice.yaml',
        'version: 1\nflows:\n  - { name: A, kind: source, credential: Sandbox, target: { type: jsonl, path: a } }\n  - { name: A, kind: source, credential: Sandbox, target: { type: jsonl, path: b } }\n',
      ),
    );
    expect(twice.code).toBe(2);
    expect(twice.err).toContain(
      'twice.yaml:4:13 flows[1].name: "A" is also the name of flows[0]: names must be unique',
    );

    const yaml = await apply('-f', write('bad.yaml', 'version: 1\nflows: [\n'));
    expect(yaml.code).toBe(2);
    expect(yaml.err).toMatch(/^error: bad\.yaml is not valid YAML:\n {2}bad\.yaml:\d+:\d+ /);

    const noKey = write(
      'newcred.yaml',
      'version: 1\ncredentials:\n  - name: Second\n    apiKeyEnv: NOT_SET_ANYWHERE\n',
    );
    const missing = await apply('-f', noKey);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('NOT_SET_ANYWHERE (credential "Second")');
    expect((await api('GET', '/credentials')).credentials).toHaveLength(1);

    const noToken = await runCli(['apply', '-f', noKey], { ...env, ASHPIPE_API_TOKEN: '' });
    expect(noToken.code).toBe(2);
    expect(noToken.err).toContain('ASHPIPE_API_TOKEN is not set');
    const wrongToken = await runCli(['apply', '-f', noKey], { ...env, ASHPIPE_API_TOKEN: 'not-a-token' });
    expect(wrongToken.err).toContain('refused the API token (401)');
  });
  it('manages notification channels: secrets from the environment, plan, change, prune and export', async () => {
    const hook = await startHttpReceiver();
    const hookToken = `hooktoken-${randomBytes(8).toString('hex')}`;
    const smtpPassword = `smtp-${randomBytes(8).toString('hex')}`;
    const channelsEnv = {
      ...env,
      CHAT_URL: `${hook.url}/${hookToken}`,
      MAIL_PASSWORD: smtpPassword,
    };
    const text = (format: string) => `version: 1
name: channels.yaml
channels:
  - name: chat
    type: webhook
    urlEnv: CHAT_URL
    format: ${format}
    events: [run_failed]
  - name: mail
    type: email
    to: [data@example.com]
    from: ashpipe@example.com
    smtp: { host: 127.0.0.1, port: 2525, user: alerts, passwordEnv: MAIL_PASSWORD }
flows:
  - name: Alerted
    kind: source
    credential: Sandbox
    active: false
    streams: [jobs]
    target: { type: jsonl, path: ${JSON.stringify(path.join(dir, 'alerted'))} }
    options: { alerts: { channels: [chat] } }
`;
    try {
      const f = write('channels.yaml', text('json'));
      const dry = await runCli(['apply', '-f', f, '--dry-run'], channelsEnv);
      expect(dry.out.split('\n').filter(Boolean)).toEqual([
        '  + channel "chat" (webhook, URL from $CHAT_URL)',
        '  + channel "mail" (email, password from $MAIL_PASSWORD)',
        '  + flow "Alerted" (source, credential "Sandbox", manual, paused)',
        'Plan: 3 to create, 0 to change, 0 to delete, 0 unchanged.',
      ]);
      // A missing secret stops the apply before anything changes.
      const { MAIL_PASSWORD: _unset, ...withoutPassword } = channelsEnv;
      const refused = await runCli(['apply', '-f', f], withoutPassword);
      expect(refused.code).toBe(2);
      expect(refused.err).toContain('MAIL_PASSWORD (channel "mail")');
      expect((await api('GET', '/alert-channels')).channels).toEqual([]);

      const first = await runCli(['apply', '-f', f], channelsEnv);
      expect(first.code, first.err).toBe(0);
      const channels = (await api('GET', '/alert-channels')).channels as Rec[];
      expect(channels.map((c) => [c.name, c.type, c.managedBy])).toEqual([
        ['chat', 'webhook', 'channels.yaml'],
        ['mail', 'email', 'channels.yaml'],
      ]);
      expect(channels[1]?.smtp).toEqual({
        host: '127.0.0.1',
        port: 2525,
        secure: false,
        user: 'alerts',
        passwordSet: true,
      });
      // The URL went to the server: a test message reaches the receiver.
      const chatId = channels[0]?.id as string;
      expect(await api('POST', `/alert-channels/${chatId}/test`)).toEqual({ delivered: true });
      expect(hook.posts).toHaveLength(1);

      const again = await runCli(['apply', '-f', f], channelsEnv);
      expect(again.out.trim()).toBe('No changes: the server matches the file (3 unchanged).');

      // A change is shown field by field, and the stored URL is kept (no secret is sent with an edit).
      const changed = write('channels.yaml', text('slack'));
      const update = await runCli(['apply', '-f', changed], channelsEnv);
      expect(update.out).toContain('  ~ channel "chat": format "json" → "slack"');
      expect(await api('POST', `/alert-channels/${chatId}/test`)).toEqual({ delivered: true });
      expect(hook.posts[1]).toHaveProperty('blocks');

      // Export names the secrets by variable; applying the export changes nothing.
      const out = path.join(dir, 'channels-export.yaml');
      expect((await runCli(['export', '-f', out], env)).code).toBe(0);
      const exported = fs.readFileSync(out, 'utf8');
      expect(exported).toContain('urlEnv: ALERT_WEBHOOK_URL_CHAT');
      expect(exported).toContain('passwordEnv: ALERT_SMTP_PASSWORD_MAIL');
      for (const t of [exported, dry.out, first.out, first.err, update.out]) {
        expect(t).not.toContain(hookToken);
        expect(t).not.toContain(smtpPassword);
      }

      // A flow naming a channel nobody has is refused before anything changes.
      const typo = write('typo.yaml', text('slack').replace('channels: [chat]', 'channels: [chta]'));
      const bad = await runCli(['apply', '-f', typo], channelsEnv);
      expect(bad.code).toBe(2);
      expect(bad.err).toContain('flows[0] "Alerted": options.alerts.channels names "chta"');

      // Without the channels section, --prune deletes the file's channels (after the flow).
      const pruned = write('channels.yaml', 'version: 1\nname: channels.yaml\n');
      const res = await runCli(['apply', '-f', pruned, '--prune'], channelsEnv);
      expect(res.code, res.err).toBe(0);
      expect(res.out).toContain('  - channel "chat"');
      expect(res.out).toContain('  - channel "mail"');
      expect((await api('GET', '/alert-channels')).channels).toEqual([]);
    } finally {
      await hook.close();
    }
  });

  it('keeps webhooks and the alert options of a source flow, and plans and applies a change of the freshness promise', async () => {
    const text = (freshnessMinutes: number) => `version: 1
flows:
  - name: Watched warehouse
    kind: source
    credential: Sandbox
    streams: [jobs]
    target: { type: sqlite, path: ${JSON.stringify(path.join(dir, 'watched.db'))} }
    webhooks: true
    options:
      alerts: { freshnessMinutes: ${freshnessMinutes}, autoPauseAfter: 3, quarantineThreshold: 25 }
`;
    const f = write('alerts.yaml', text(120));
    const first = await apply('-f', f);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toContain('Applied: 1 to create, 0 to change, 0 to delete, 0 unchanged.');
    const created = await flowNamed('Watched warehouse');
    const id = created?.id as string;
    expect(created?.status).toBe('active');
    expect((created?.config as Rec | undefined)?.options).toEqual({
      alerts: { freshnessMinutes: 120, autoPauseAfter: 3, quarantineThreshold: 25 },
      webhooks: true,
      managedBy: 'alerts.yaml',
    });
    expect((await api('GET', `/flows/${id}/webhooks`)).enabled).toBe(true);

    const again = await apply('-f', f);
    expect(again.code, again.err).toBe(0);
    expect(again.out.trim()).toBe('No changes: the server matches the file (1 unchanged).');
    expect((await flowNamed('Watched warehouse'))?.updatedAt).toBe(created?.updatedAt);

    // A new promise is one field of the plan; the dry run leaves the server as it is.
    const changed = write('alerts.yaml', text(45));
    const dry = await apply('-f', changed, '--dry-run');
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out.split('\n').filter(Boolean)).toEqual([
      '  ~ flow "Watched warehouse": options.alerts.freshnessMinutes 120 → 45',
      'Plan: 0 to create, 1 to change, 0 to delete, 0 unchanged.',
    ]);
    const json = await apply('-f', changed, '--dry-run', '--json');
    expect(json.code, json.err).toBe(0);
    const planned = (JSON.parse(json.out) as { plan: { steps: Rec[] } }).plan.steps;
    expect(planned).toHaveLength(1);
    expect(planned[0]).toMatchObject({ action: 'update', kind: 'flow', id, adopted: false });
    expect(planned[0]?.changes).toEqual([{ path: 'options.alerts.freshnessMinutes', from: 120, to: 45 }]);
    expect(planned[0]).not.toHaveProperty('webhooks');
    expect(planned[0]).not.toHaveProperty('active');
    expect(((await flowNamed('Watched warehouse'))?.config as Rec | undefined)?.options).toMatchObject({
      alerts: { freshnessMinutes: 120 },
    });

    const done = await apply('-f', changed);
    expect(done.code, done.err).toBe(0);
    expect(done.err).toBe(`changed flow "Watched warehouse" (${id})\n`);
    expect(done.out).toContain('Applied: 0 to create, 1 to change, 0 to delete, 0 unchanged.');
    const updated = await flowNamed('Watched warehouse');
    expect((updated?.config as Rec | undefined)?.options).toEqual({
      alerts: { freshnessMinutes: 45, autoPauseAfter: 3, quarantineThreshold: 25 },
      webhooks: true,
      managedBy: 'alerts.yaml',
    });
    expect(updated?.status).toBe('active');
    expect((await api('GET', `/flows/${id}/webhooks`)).enabled).toBe(true);
    expect((await apply('-f', changed)).out.trim()).toBe(
      'No changes: the server matches the file (1 unchanged).',
    );
  });

  it('warns a REST edit of a flow a file manages that the next apply puts the file back; apply itself is not warned', async () => {
    const managed = await flowNamed('Watched warehouse');
    if (!managed) throw new Error('the flow of the case before is missing');
    const edited = { ...(managed.config as Rec), schedule: '15 * * * *' };
    const answer = await api('PUT', `/flows/${managed.id as string}`, edited);
    expect(answer.warnings).toEqual([
      'Flow "Watched warehouse" is managed by alerts.yaml: the next `ashpipe apply` of that file puts back what the file says. Change the file to keep this change.',
    ]);
    expect((answer.flow as Rec).schedule).toBe('15 * * * *');
    // The same edit sent as apply sends it: no warning.
    const res = await fetch(`${server.url}/api/v1/flows/${managed.id as string}`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'x-ashpipe-apply': '1',
      },
      body: JSON.stringify(edited),
    });
    expect(((await res.json()) as Rec).warnings).toEqual([]);
    // A flow no file manages: nothing to warn about.
    const { flow } = (await api('POST', '/flows', { ...edited, name: 'Console made', options: {} })) as {
      flow: Rec;
    };
    expect(
      (await api('PUT', `/flows/${flow.id as string}`, { ...edited, name: 'Console made', options: {} }))
        .warnings,
    ).toEqual([]);
  });
});
