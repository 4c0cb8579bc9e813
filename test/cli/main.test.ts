import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { captureStreams as capture, runCli } from '../support/cli.js';

describe('ashpipe CLI', () => {
  it('prints its version and exits 0', async () => {
    const io = capture();
    const code = await main(['node', 'ashpipe', '--version'], { io: io.io });
    expect(code).toBe(0);
    expect(io.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('exits 2 on an unknown command', async () => {
    const io = capture();
    const code = await main(['node', 'ashpipe', 'no-such-command'], { io: io.io });
    expect(code).toBe(2);
    expect(io.err).toMatch(/unknown command|too many arguments/);
  });

  // A lower layer (here push) refuses a setting with a ConfigError: the CLI shows its message and exits 2
  // (usage or configuration error: nothing attempted), never 1. Messages written by hand from the README.
  it.each([
    [
      ['push', '--endpoint', 'candidate.teleport', '--input', 'x.csv'],
      'error: unknown endpoint or operation "candidate.teleport" (see `ashpipe operations`)',
    ],
  ])('exits 2 on a refused setting: %j', async (argv, message) => {
    const { code, err, out } = await runCli(argv, { ASHBY_API_KEY: 'not-used' });
    expect(code).toBe(2);
    expect(err).toBe(`${message}\n`);
    expect(out).toBe('');
  });
});
