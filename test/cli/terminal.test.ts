/**
 * The CLI as a person sees it in a 100×30 terminal: a real pseudo-terminal (util-linux `script`), its
 * output replayed into a terminal emulator (xterm.js); every screen walked is saved under `__screens__/`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { runCli } from '../support/cli.js';
import { runInPty, saveScreen, until } from '../support/pty.js';

const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const WRAP_OFF = '\x1b[?7l';
const WRAP_ON = '\x1b[?7h';

/** Whether the last time the output turned something off, it turned it back on afterwards. */
const restored = (raw: string, off: string, on: string) => raw.lastIndexOf(on) > raw.lastIndexOf(off);

/** Rows the terminal filled by wrapping a line wider than itself (the line's continuation rows). */
function wrappedRows(run: ReturnType<typeof runInPty>): string[] {
  const buffer = run.terminal.buffer.active;
  const rows: string[] = [];
  for (let i = 0; i < buffer.length; i++) {
    const line = buffer.getLine(i);
    if (line?.isWrapped) rows.push(line.translateToString(true));
  }
  return rows;
}

/** Every line the terminal holds, scrollback included. */
function history(run: ReturnType<typeof runInPty>): string[] {
  const buffer = run.terminal.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i)?.translateToString(true) ?? '');
  return lines;
}

describe('the CLI in a 100×30 terminal', () => {
  let sandbox: Sandbox;
  let dir: string;
  beforeAll(async () => {
    // Slow enough answers that the live display is seen with many streams in flight.
    sandbox = await startSandbox({ scale: 100, seed: 1, faults: { latencyMs: 60 } });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-pty-'));
  });
  afterAll(async () => {
    await sandbox?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const env = () => ({ ASHBY_API_KEY: 'sandbox-full', ASHPIPE_HOME: path.join(dir, 'home') });

  it('shows the active streams and a total line within the height, then one summary that fits 100 columns', async () => {
    const db = path.join(dir, 'live.db');
    const run = runInPty(['sync', '--base-url', sandbox.url, '--to', db], { env: env() });
    let live: string[] = [];
    await until(async () => {
      live = await run.screen();
      return (
        live.some((l) => / streams done · [1-9]\d* read/.test(l)) &&
        live.filter((l) => / read /.test(l)).length >= 3
      );
    });
    saveScreen('sync-live', live);
    const total = live.findIndex((l) => / streams done · /.test(l));
    // The total line is on screen, under the streams, and nothing of the display is cut off or repeated.
    expect(total).toBeGreaterThan(0);
    const streamLines = live.slice(0, total).filter((l) => / read /.test(l));
    const names = streamLines.map((l) => l.trim().split(/\s+/)[0]);
    expect(new Set(names).size).toBe(names.length);
    expect(streamLines.length + 1).toBeLessThanOrEqual(29);
    expect(await run.exit).toBe(0);
    const final = await run.screen();
    saveScreen('sync-summary', final);
    const all = history(run);
    // Each stream once: the live display leaves the screen, the summary lists every stream.
    expect(all.filter((l) => /^candidates\s/.test(l))).toHaveLength(1);
    expect(all.filter((l) => /^interview_stages\s/.test(l))).toHaveLength(1);
    expect(all.some((l) => /^read \d+, changed \d+ \(\d+ inserted/.test(l))).toBe(true);
    // Printed lines never needed more than 100 columns: the terminal wrapped none onto a second row.
    for (const l of all) expect(l.length).toBeLessThanOrEqual(100);
    expect(wrappedRows(run)).toEqual([]);
    expect(all.some((l) => l.startsWith('stream ') && l.includes('inserted'))).toBe(true);
    expect(restored(run.raw(), HIDE_CURSOR, SHOW_CURSOR)).toBe(true);
    expect(restored(run.raw(), WRAP_OFF, WRAP_ON)).toBe(true);
    expect(run.terminal.modes.wraparoundMode).toBe(true);
  }, 60_000);

  it('Ctrl-C: one line with the pages committed, exit 130, cursor and line wrap back; the same command resumes', async () => {
    const db = path.join(dir, 'interrupted.db');
    sandbox.faults.set({ latencyMs: 250 });
    try {
      const run = runInPty(['sync', '--base-url', sandbox.url, '--to', db], { env: env() });
      await until(async () => (await run.screen()).some((l) => /[1-9]\d* read /.test(l)));
      saveScreen('sync-before-ctrl-c', await run.screen());
      run.type('\x03');
      expect(await run.exit).toBe(130);
      const screen = await run.screen();
      saveScreen('sync-after-ctrl-c', screen);
      const lines = screen.filter((l) => l.trim() !== '');
      const last = lines[lines.length - 1] ?? '';
      expect(last).toMatch(/^interrupted: [1-9]\d* pages? committed; run the same command to resume$/);
      // One line: no summary table, no error chain.
      expect(history(run).filter((l) => /^stream\s+status/.test(l))).toHaveLength(0);
      expect(restored(run.raw(), HIDE_CURSOR, SHOW_CURSOR)).toBe(true);
      expect(restored(run.raw(), WRAP_OFF, WRAP_ON)).toBe(true);
      expect(run.terminal.modes.wraparoundMode).toBe(true);
    } finally {
      sandbox.faults.set({ latencyMs: 0 });
    }
    const again = await runCli(['sync', '--base-url', sandbox.url, '--to', db, '--json'], env());
    expect(again.code).toBe(0);
  }, 60_000);

  it('push, Ctrl-C: one line with what was applied, exit 130, terminal back; the rerun applies each record once', async () => {
    const csv = path.join(dir, 'people.csv');
    const emails = Array.from({ length: 60 }, (_, i) => `pty-push-${i}@example.com`);
    fs.writeFileSync(csv, `name,email\n${emails.map((e, i) => `Person ${i},${e}`).join('\n')}\n`);
    const args = ['push', '--base-url', sandbox.url, '--endpoint', 'candidate.create', '--input', csv];
    sandbox.faults.set({ latencyMs: 250 });
    try {
      const run = runInPty(args, { env: env() });
      await until(() => /\d+\/\d+ records \| [1-9]\d* created/.test(run.raw()));
      saveScreen('push-before-ctrl-c', await run.screen());
      run.type('\x03');
      expect(await run.exit).toBe(130);
      const screen = await run.screen();
      saveScreen('push-after-ctrl-c', screen);
      const lines = screen.filter((l) => l.trim() !== '');
      expect(lines[lines.length - 1]).toMatch(
        /^interrupted: [1-9]\d* records? applied, \d+ pending; run the same command to resume$/,
      );
      expect(restored(run.raw(), HIDE_CURSOR, SHOW_CURSOR)).toBe(true);
      expect(restored(run.raw(), WRAP_OFF, WRAP_ON)).toBe(true);
    } finally {
      sandbox.faults.set({ latencyMs: 0 });
    }
    const again = await runCli(args, env());
    expect(again.code).toBe(0);
    const created = (
      sandbox.records('candidate.list', { apiKey: 'sandbox-full' }) as Array<{
        emailAddresses?: Array<{ value: string }>;
      }>
    )
      .flatMap((c) => (c.emailAddresses ?? []).map((e) => e.value))
      .filter((e) => e.startsWith('pty-push-'));
    expect(created.sort()).toEqual([...emails].sort());
  }, 60_000);
});
