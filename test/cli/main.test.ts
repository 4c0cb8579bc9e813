import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { captureStreams as capture } from '../support/cli.js';

describe('ashpipe CLI', () => {
  it('prints its version and exits 0', async () => {
    const io = capture();
    const code = await main(['node', 'ashpipe', '--version'], { streams: io.streams });
    expect(code).toBe(0);
    expect(io.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('exits 2 on an unknown command', async () => {
    const io = capture();
    const code = await main(['node', 'ashpipe', 'no-such-command'], { streams: io.streams });
    expect(code).toBe(2);
    expect(io.err).toMatch(/unknown command|too many arguments/);
  });
});
