/**
 * The push side keeps no personal value longer than it must: a quarantined record's raw input is cleared
 * after the quarantine retention (from the control store's file too), and reasons, results and the run
 * log quote personal values masked.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import type { Control } from '../../src/control/open.js';
import { maskPersonalText, personalValuesOf } from '../../src/privacy/messages.js';
import { clearExpiredQuarantineInput, getQuarantine } from '../../src/push/ledger.js';
import { planReplay } from '../../src/push/replay.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { cli, openHomeControl, pushTo, removeAll, sqliteOf, tempDir } from '../push/helpers.js';

const apiKey = `canary-key-${randomBytes(12).toString('hex')}`;
let sandbox: Sandbox;
const cleanup: string[] = [];
let home: string;
let control: Control;

beforeAll(async () => {
  sandbox = await startSandbox({
    scale: 10,
    keys: [{ key: apiKey, title: 'Canary', scopes: [...ALL_SCOPES], confidential: true }],
  });
});
afterAll(() => sandbox.close());
beforeEach(async () => {
  home = tempDir(cleanup);
  control = await openHomeControl(home);
});
afterEach(async () => {
  await control.close();
  removeAll(cleanup);
});

/** A person nobody else is: an invalid email (two @) that still names them, and a phone number. */
function canary() {
  const tag = randomBytes(6).toString('hex');
  return {
    name: `Zebulon Quarantine${tag}`,
    email: `zq.${tag}@@canary-${tag}.example`,
    phoneNumber: `+44 7700 9${parseInt(tag.slice(0, 5), 16).toString().padStart(5, '0').slice(0, 5)}`,
    tag,
  };
}

/** Every byte of the control store's files (database and WAL). */
function controlBytes(): Buffer {
  return Buffer.concat(
    fs
      .readdirSync(home)
      .filter((f) => f.startsWith('control.db'))
      .map((f) => fs.readFileSync(path.join(home, f))),
  );
}

const backDate = (id: number, days: number) =>
  sqliteOf(control)
    .prepare('UPDATE push_quarantine SET at = ? WHERE id = ?')
    .run(new Date(Date.now() - days * 86_400_000).toISOString(), id);

describe('quarantine raw-input retention', () => {
  it('a run clears the raw input of entries older than the retention, from the file too; young ones keep it', async () => {
    const old = canary();
    const young = canary();
    const first = await pushTo(
      sandbox,
      control,
      'candidate.create',
      [{ name: old.name, email: old.email, phoneNumber: old.phoneNumber }],
      { inputKey: 'file:old.csv' },
    );
    const oldId = first.results[0]?.quarantineId as number;
    expect(first.results[0]?.status).toBe('quarantined');
    const second = await pushTo(
      sandbox,
      control,
      'candidate.create',
      [{ name: young.name, email: young.email, phoneNumber: young.phoneNumber }],
      { inputKey: 'file:young.csv' },
    );
    const youngId = second.results[0]?.quarantineId as number;
    backDate(oldId, 31);
    backDate(youngId, 29);
    sqliteOf(control).pragma('wal_checkpoint(TRUNCATE)');
    // Before the retention ends, the raw input is in the file.
    expect(controlBytes().includes(old.phoneNumber)).toBe(true);

    // A third run (an ordinary one, with nothing to do with the canaries) starts by clearing.
    await pushTo(sandbox, control, 'candidate.create', [{ name: 'Nobody', email: 'not-an-email' }], {
      inputKey: 'file:other.csv',
    });

    const oldEntry = await getQuarantine(control.db, oldId);
    expect(oldEntry?.raw).toBeNull();
    expect(oldEntry?.rawClearedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(oldEntry?.status).toBe('open');
    expect(oldEntry?.errorCode).toBe(first.results[0]?.error?.code);
    const youngEntry = await getQuarantine(control.db, youngId);
    expect(youngEntry?.raw).toEqual({ name: young.name, email: young.email, phoneNumber: young.phoneNumber });
    expect(youngEntry?.rawClearedAt).toBeNull();

    // The reason stays, with the address masked to its domain; nothing else of the person is left.
    const bytes = controlBytes();
    for (const value of [old.phoneNumber, old.email, old.name, `zq.${old.tag}`])
      expect(bytes.includes(value), value).toBe(false);
    expect(bytes.includes(young.phoneNumber)).toBe(true);
  });

  it('the retention is configurable; a dry run clears nothing; a cleared entry cleared again is left alone', async () => {
    const p = canary();
    const run = await pushTo(sandbox, control, 'candidate.create', [{ name: p.name, email: p.email }], {
      inputKey: 'file:canary.csv',
    });
    const id = run.results[0]?.quarantineId as number;
    backDate(id, 3);
    await pushTo(sandbox, control, 'candidate.create', [{ name: 'Nobody', email: 'x' }], {
      inputKey: 'file:other.csv',
      dryRun: true,
      quarantineRetentionDays: 2,
    });
    expect((await getQuarantine(control.db, id))?.raw).not.toBeNull();
    await pushTo(sandbox, control, 'candidate.create', [{ name: 'Nobody', email: 'x' }], {
      inputKey: 'file:other.csv',
      quarantineRetentionDays: 4,
    });
    expect((await getQuarantine(control.db, id))?.raw).not.toBeNull();
    await pushTo(sandbox, control, 'candidate.create', [{ name: 'Nobody', email: 'x' }], {
      inputKey: 'file:other.csv',
      quarantineRetentionDays: 2,
    });
    const cleared = await getQuarantine(control.db, id);
    expect(cleared?.raw).toBeNull();
    expect(await clearExpiredQuarantineInput(control, 2)).toBe(0);
    expect((await getQuarantine(control.db, id))?.rawClearedAt).toBe(cleared?.rawClearedAt);
    // A cleared entry is not replayed as it was: it says why; a corrected record still replays.
    const entry = await getQuarantine(control.db, id);
    if (!entry) throw new Error('entry gone');
    expect(planReplay([entry]).rows[0]?.error).toContain('cleared at the end of the quarantine retention');
    const fixed = new Map([[id, { name: 'Fixed', email: 'fixed@example.com' }]]);
    expect(planReplay([entry], { fixed }).rows[0]?.record).toEqual({
      name: 'Fixed',
      email: 'fixed@example.com',
    });
  });
});

describe('personal values in push reasons and logs', () => {
  it('masks by the catalogue: an email keeps its domain, a name its initials, a phone its last two digits', () => {
    const record = {
      name: 'Ada Lovelace',
      email: 'ada@@example.com',
      phoneNumber: '+44 20 7946 0958',
      jobId: 'x',
    };
    expect(
      maskPersonalText(
        'not a valid email address: "ada@@example.com"; Ada Lovelace, +44 20 7946 0958',
        personalValuesOf(record),
      ),
    ).toBe('not a valid email address: "***@example.com"; A. L., **********58');
    // Without the record, an address is still found in the text.
    expect(maskPersonalText('Ashby says: ada.l@example.org is taken')).toBe(
      'Ashby says: ***@example.org is taken',
    );
    expect(maskPersonalText('no personal value here')).toBe('no personal value here');
  });

  it('a canary email in a bad record is in neither the reason, the results file nor the run log', async () => {
    const p = canary();
    const dir = tempDir(cleanup);
    const input = path.join(dir, 'bad.csv');
    fs.writeFileSync(input, `name,email,phoneNumber\r\n${p.name},${p.email},${p.phoneNumber}\r\n`);
    const results = path.join(dir, 'results.jsonl');
    const logFile = path.join(dir, 'push.log');
    const env = { ASHPIPE_HOME: path.join(dir, 'home'), ASHBY_TEST_KEY: apiKey };
    const run = await cli(
      [
        'push',
        '--api-key-env',
        'ASHBY_TEST_KEY',
        '--base-url',
        sandbox.url,
        '--endpoint',
        'candidate.create',
        '--input',
        input,
        '--results',
        results,
        '--log-file',
        logFile,
        '--quarantine-retention',
        '30',
      ],
      env,
    );
    expect(run.code).toBe(3);
    const log = fs.readFileSync(logFile, 'utf8');
    expect(log).toContain('record quarantined');
    expect(log).toContain(`***@canary-${p.tag}.example`);
    const written = fs.readFileSync(results, 'utf8');
    const control = await openHomeControl(env.ASHPIPE_HOME as string);
    try {
      const reason = (
        sqliteOf(control).prepare('SELECT error_message FROM push_quarantine').all() as Array<{
          error_message: string;
        }>
      ).map((r) => r.error_message);
      expect(reason).toHaveLength(1);
      expect(reason[0]).toContain('not a valid email address');
      for (const text of [log, written, run.out, run.err, reason[0] ?? '']) {
        expect(text).not.toContain(p.email);
        expect(text).not.toContain(`zq.${p.tag}`);
      }
    } finally {
      await control.close();
    }
  });

  it('a bad --quarantine-retention is a usage error', async () => {
    const dir = tempDir(cleanup);
    const input = path.join(dir, 'x.csv');
    fs.writeFileSync(input, 'name,email\r\nA,a@example.com\r\n');
    const run = await cli(
      [
        'push',
        '--api-key-env',
        'ASHBY_TEST_KEY',
        '--base-url',
        sandbox.url,
        '--endpoint',
        'candidate.create',
        '--input',
        input,
        '--quarantine-retention',
        'soon',
      ],
      { ASHPIPE_HOME: path.join(dir, 'home'), ASHBY_TEST_KEY: apiKey },
    );
    expect(run.code).toBe(2);
    expect(run.err).toContain('--quarantine-retention');
  });
});
