// The kill -9 matrix on the postgres sink (see crash-matrix.ts); one file per sink so they run in parallel.
import { describe } from 'vitest';
import { crashMatrix } from './crash-matrix.js';
import { POSTGRES_URL } from './helpers.js';

if (POSTGRES_URL) crashMatrix('postgres');
else describe.skip('postgres: the kill -9 matrix (ASHPIPE_TEST_POSTGRES_URL is not set)', () => {});
