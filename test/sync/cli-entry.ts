// Runs the CLI from source, so tests can spawn (and kill) a real process without a build.
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv);
