import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const pkg = require('../package.json') as { version: string };

/** ashpipe's version, from package.json. */
export const VERSION: string = pkg.version;
