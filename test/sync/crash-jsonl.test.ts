// The kill -9 matrix on the jsonl sink (see crash-matrix.ts); one file per sink so they run in parallel.
import { crashMatrix } from './crash-matrix.js';

crashMatrix('jsonl');
