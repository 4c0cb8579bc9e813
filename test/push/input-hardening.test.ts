/**
 * Bad input gets a clear error naming what is wrong and where, and loses nothing: every unreadable row is
 * quarantined with its line and text under its own key, inputs that are not text files are refused at
 * once, and files are read as streams with a limit on each record.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import type { Control } from '../../src/control/open.js';
import { type RecordResult, runPush } from '../../src/push/engine.js';
import { InputFileError, type InputRow, readInput } from '../../src/push/input.js';
import { listQuarantine } from '../../src/push/ledger.js';
import { findOperation } from '../../src/push/operations/index.js';
import type { Operation } from '../../src/push/types.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { FakeAshby } from './fake-ashby.js';
import { cli, openHomeControl, removeAll, tempDir, uniqueEmail } from './helpers.js';

const cleanup: string[] = [];
let dir: string;
beforeEach(() => {
  dir = tempDir(cleanup);
});
afterEach(() => removeAll(cleanup));

function file(name: string, content: string | Buffer): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
}

async function read(p: string, options: { maxRecordBytes?: number } = {}): Promise<InputRow[]> {
  const out: InputRow[] = [];
  for await (const r of readInput({ kind: 'file', file: p }, options)) out.push(r);
  return out;
}

async function readError(p: string, options: { maxRecordBytes?: number } = {}): Promise<Error> {
  try {
    await read(p, options);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`reading ${p} did not fail`);
}

/** Three rows csv-parse cannot read (misplaced quotes), between good ones. */
const BAD_QUOTES = [
  'name,email',
  'Ada,ada@example.com',
  'Bea "the" Best,"bea@example.com',
  'Cy,c"q"@example.com',
  'Di "z",di@example.com',
  'Eve,eve@example.com',
  '',
].join('\n');

describe('unreadable rows are kept, each under its own quarantine key', () => {
  let home: string;
  let control: Control;
  const create = findOperation('candidate.create') as Operation;
  beforeEach(async () => {
    home = tempDir(cleanup);
    control = await openHomeControl(home);
  });
  afterEach(() => control.close());

  const push = async (p: string, inputKey: string) => {
    const results: RecordResult[] = [];
    const summary = await runPush({
      client: new FakeAshby(),
      control,
      operation: create,
      rows: readInput({ kind: 'file', file: p }),
      inputKey,
      reconcileDelayMs: 0,
      onResult: (r) => results.push(r),
    });
    return { summary, results };
  };

  it('three unreadable CSV rows become three entries with their line and raw text, counted once each', async () => {
    const p = file('quotes.csv', BAD_QUOTES);
    const { summary } = await push(p, 'flow:A');
    expect(summary.total).toBe(5);
    expect(summary.counts.created).toBe(2);
    expect(summary.counts.quarantined).toBe(3);
    const entries = await listQuarantine(control.db);
    expect(entries.map((e) => [e.errorCode, e.raw])).toEqual([
      ['unreadable_row', 'Bea "the" Best,"bea@example.com'],
      ['unreadable_row', 'Cy,c"q"@example.com'],
      ['unreadable_row', 'Di "z",di@example.com'],
    ]);
    expect(new Set(entries.map((e) => e.recordKey)).size).toBe(3);
    for (const e of entries) expect(e.errorMessage).toMatch(/^unreadable CSV row: /);
  });

  it('the same bad rows in another input (another flow) get their own entries instead of taking over', async () => {
    const p = file('quotes.csv', BAD_QUOTES);
    const a = await push(p, 'flow:A');
    const b = await push(p, 'flow:B');
    const entries = await listQuarantine(control.db);
    expect(entries).toHaveLength(6);
    expect(entries.filter((e) => e.runId === a.summary.runId)).toHaveLength(3);
    expect(entries.filter((e) => e.runId === b.summary.runId)).toHaveLength(3);
    // A rerun of one input updates its own entries.
    await push(p, 'flow:A');
    expect(await listQuarantine(control.db)).toHaveLength(6);
  });

  it('identical ragged rows at different lines are different entries, each with its line', async () => {
    const p = file('ragged.csv', 'name,email\noops\nAda,ada@example.com\noops\noops\n');
    await push(p, 'file:ragged');
    const entries = await listQuarantine(control.db);
    expect(entries.map((e) => [e.rowNumber, e.raw])).toEqual([
      [1, 'oops'],
      [3, 'oops'],
      [4, 'oops'],
    ]);
  });

  it('reads rows around an unclosed quote and reports every line it swallowed', async () => {
    const rows = await read(
      file('unclosed.csv', 'name,email\nAda,a@example.com\n"Bea,b@example.com\nCy,c@example.com\n'),
    );
    expect(rows.map((r) => [r.row, r.line, r.record === undefined ? r.raw : 'ok'])).toEqual([
      [1, 2, 'ok'],
      [2, 3, '"Bea,b@example.com'],
      [3, 4, 'Cy,c@example.com'],
    ]);
    expect(rows[1]?.error).toMatch(/Quote Not Closed/);
  });
});

describe('inputs that are not text files are refused at once', () => {
  it('a device such as /dev/zero, as CSV or as JSON, is refused by the reader and by push (exit 2)', async () => {
    for (const format of ['csv', 'json', 'jsonl'] as const) {
      let error: unknown;
      try {
        for await (const _ of readInput({ kind: 'file', file: '/dev/zero', format })) break;
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InputFileError);
      expect((error as Error).message).toBe(
        '/dev/zero is a character device, not a regular file: give the records as a file',
      );
    }
    const run = await cli(
      ['push', '--endpoint', 'candidate.create', '--input', '/dev/zero', '--format', 'json', '--dry-run'],
      { ASHPIPE_HOME: path.join(dir, 'home') },
    );
    expect(run.code).toBe(2);
    expect(run.err).toContain('/dev/zero is a character device, not a regular file');
  });

  it('a named pipe is refused without waiting for a writer, and so is a directory', async () => {
    const fifo = path.join(dir, 'pipe.csv');
    execFileSync('mkfifo', [fifo]);
    expect((await readError(fifo)).message).toBe(
      `${fifo} is a named pipe, not a regular file: give the records as a file`,
    );
    let error: unknown;
    try {
      for await (const _ of readInput({ kind: 'file', file: dir, format: 'csv' })) break;
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).toBe(
      `${dir} is a directory, not a regular file: give the records as a file`,
    );
  });

  it('a binary file (or UTF-16 text) is refused, naming the first NUL byte', async () => {
    const utf16 = file('utf16.csv', Buffer.from('\ufeffname,email\nAda,a@example.com\n', 'utf16le'));
    expect((await readError(utf16)).message).toBe(
      `${utf16} looks binary (a NUL byte at byte offset 3): records are read as UTF-8 text (save UTF-16 files as UTF-8)`,
    );
  });
});

describe('invalid UTF-8 is reported with its line and byte offset', () => {
  // "Zoë" with its ë as a lone Latin-1 byte (0xEB): the kind of file a spreadsheet saves as "CSV".
  const latin1 = (text: string) => Buffer.from(text.replace('ë', '\u0000'), 'utf8');
  const withByte = (text: string, byte: number) => {
    const b = latin1(text);
    b[b.indexOf(0)] = byte;
    return b;
  };

  it('CSV: the row is quarantined with line and offset; the rows around it are read', async () => {
    // Offsets by hand: "name,email\n" is 11 bytes, "Ada,a@example.com\n" 18, so line 3 starts at 29; "Zo" is 2.
    const p = file(
      'latin1.csv',
      withByte('name,email\nAda,a@example.com\nZoë,z@example.com\nEve,e@example.com\n', 0xeb),
    );
    const rows = await read(p);
    expect(rows.map((r) => [r.row, r.line, r.error ?? 'ok'])).toEqual([
      [1, 2, 'ok'],
      [2, 3, 'invalid UTF-8 at line 3, byte offset 31 of the file'],
      [3, 4, 'ok'],
    ]);
    expect(rows[1]?.raw).toBe('Zo\ufffd,z@example.com');
  });

  it('JSONL: the line is quarantined with line and offset', async () => {
    // '{"name":"Ada"}\n' is 15 bytes; line 2 is '{"name":"Zoë"}', the byte after '{"name":"Zo' (11 bytes).
    const p = file('latin1.jsonl', withByte('{"name":"Ada"}\n{"name":"Zoë"}\n', 0xeb));
    const rows = await read(p);
    expect(rows[1]?.error).toBe('invalid UTF-8 at line 2, byte offset 26 of the file');
    expect(rows[0]?.record).toEqual({ name: 'Ada' });
  });

  it('JSON array: the read stops, naming line and offset (JSON cannot resume after it)', async () => {
    const p = file('latin1.json', withByte('[{"name":"Ada"},\n{"name":"Zoë"}]', 0xeb));
    expect((await readError(p)).message).toBe(`${p}: invalid UTF-8 at line 2, byte offset 28`);
  });
});

describe('__proto__ is refused with a message, never dropped', () => {
  it('a CSV header naming __proto__ is refused by the reader and by push (exit 2)', async () => {
    const p = file('proto.csv', 'name,__proto__,email\nAda,x,a@example.com\n');
    expect((await readError(p)).message).toBe(
      `${p}: column 2 of the header is named "__proto__", which cannot be a field name; rename it`,
    );
    const run = await cli(['push', '--endpoint', 'candidate.create', '--input', p, '--dry-run'], {
      ASHPIPE_HOME: path.join(dir, 'home'),
      ASHBY_API_KEY: 'unused-key-0000',
    });
    expect(run.code).toBe(2);
    expect(run.err).toContain('column 2 of the header is named "__proto__"');
  });

  it('a JSONL or JSON record with a __proto__ key anywhere is a bad row naming the field', async () => {
    const jsonl = await read(
      file('p.jsonl', '{"name":"Ada","location":{"__proto__":{"city":"x"}}}\n{"name":"Bo"}\n'),
    );
    expect(jsonl[0]?.error).toBe(
      'the field "location.__proto__" is named __proto__, which cannot be a field name; rename it in the input',
    );
    expect(jsonl[1]?.record).toEqual({ name: 'Bo' });
    const json = await read(file('p.json', '[{"__proto__":{"polluted":true}},{"name":"Bo"}]'));
    expect(json[0]?.error).toMatch(/"__proto__" is named __proto__/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('records are read with a size limit, never whole files', () => {
  it('a CSV line and a JSONL line over the limit are bad rows with their start, the rest is read', async () => {
    const long = 'x'.repeat(5000);
    const csv = await read(file('long.csv', `name,email\n${long},a@example.com\nBo,b@example.com\n`), {
      maxRecordBytes: 1024,
    });
    expect(csv.map((r) => [r.row, r.line, r.error ?? 'ok'])).toEqual([
      [1, 2, 'line 2 is 5014 bytes long, more than the 1024-byte limit of a record'],
      [2, 3, 'ok'],
    ]);
    expect(String(csv[0]?.raw).length).toBeLessThanOrEqual(1025);
    const jsonl = await read(file('long.jsonl', `{"name":"${long}"}\n{"name":"Bo"}\n`), {
      maxRecordBytes: 1024,
    });
    expect(jsonl[0]?.error).toBe('line 1 is 5011 bytes long, more than the 1024-byte limit of a record');
    expect(jsonl[1]?.record).toEqual({ name: 'Bo' });
  });

  it('a JSON array element over the limit stops the read before it is held whole', async () => {
    const p = file('huge.json', `[{"name":"Ada"},{"name":"${'y'.repeat(300_000)}"}]`);
    const rows: InputRow[] = [];
    let error: Error | undefined;
    try {
      for await (const r of readInput({ kind: 'file', file: p }, { maxRecordBytes: 65_536 })) rows.push(r);
    } catch (e) {
      error = e as Error;
    }
    expect(rows.map((r) => r.record)).toEqual([{ name: 'Ada' }]);
    expect(error?.message).toMatch(
      /element 2 \(from byte offset 1[56]\) is larger than the 65536-byte limit/,
    );
  });

  it('a JSON array is streamed element by element, equal to what JSON.parse reads', async () => {
    const elements = Array.from({ length: 2000 }, (_, i) => ({
      name: `N${i}`,
      n: i,
      tags: [i, `t${i}`],
      nested: { ok: i % 2 === 0 },
    }));
    const rows = await read(file('many.json', `\ufeff${JSON.stringify(elements, null, 1)}`));
    expect(rows.map((r) => r.record)).toEqual(elements);
    expect(rows.map((r) => r.row)).toEqual(elements.map((_, i) => i + 1));
  });

  it('a JSON syntax error names its line and byte offset', async () => {
    const p = file('broken.json', '[{"name":"Ada"},\n {"name":"Bo",,}]');
    const error = await readError(p);
    // The second comma of '{"name":"Bo",,' is byte 31: 16 bytes of line 1 with its LF, a space, then 14.
    expect(error.message).toBe(
      `${p} is not valid JSON near line 2, byte offset 31: Unexpected COMMA (",") in state KEY`,
    );
  });
});

describe('push --dry-run --json streams one JSON document', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({
      scale: 10,
      keys: [{ key: 'stream-key-0001', title: 'k', scopes: [...ALL_SCOPES], confidential: true }],
    });
  });
  afterAll(() => sandbox.close());
  const env = () => ({ ASHPIPE_HOME: path.join(dir, 'home'), ASHBY_API_KEY: 'stream-key-0001' });

  it('holds every body that would be sent and the summary, in one parseable document', async () => {
    const lines = Array.from({ length: 40 }, (_, i) => `Person ${i},${uniqueEmail('dry')}`);
    const p = file('dry.csv', `name,email\n${lines.join('\n')}\n`);
    const run = await cli(
      [
        'push',
        '--base-url',
        sandbox.url,
        '--endpoint',
        'candidate.create',
        '--input',
        p,
        '--dry-run',
        '--json',
      ],
      env(),
    );
    expect(run.code).toBe(0);
    const doc = JSON.parse(run.out) as {
      wouldSend: Array<{ row: number; endpoint: string; body: { name: string } }>;
      total: number;
      dryRun: boolean;
      counts: Record<string, number>;
    };
    expect(doc.total).toBe(40);
    expect(doc.dryRun).toBe(true);
    expect(doc.counts['dry-run']).toBe(40);
    expect(doc.wouldSend.map((w) => w.body.name).sort()).toEqual(lines.map((l) => l.split(',')[0]).sort());
  });

  it('stays one parseable document when the input breaks part-way (the error is in it and on stderr)', async () => {
    const p = file('dry.json', `[{"name":"Ada","email":"${uniqueEmail('dry')}"},{"name":`);
    const run = await cli(
      [
        'push',
        '--base-url',
        sandbox.url,
        '--endpoint',
        'candidate.create',
        '--input',
        p,
        '--dry-run',
        '--json',
      ],
      env(),
    );
    expect(run.code).toBe(1);
    const doc = JSON.parse(run.out) as { wouldSend: unknown[]; error: string };
    expect(doc.wouldSend).toHaveLength(1);
    expect(doc.error).toContain('ends before its JSON array is closed');
    expect(run.err).toContain('ends before its JSON array is closed');
  });
});
