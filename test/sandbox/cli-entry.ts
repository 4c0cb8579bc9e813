/** The CLI as a child process for the sandbox command test: `node --import tsx test/sandbox/cli-entry.ts sandbox …`. */
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv);
