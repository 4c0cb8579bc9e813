/** The CLI as a child process for the crash tests: `node --import tsx test/push/cli-entry.ts push …`. */
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv);
