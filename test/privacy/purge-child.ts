// Purges one candidate from a target, saying when it starts: the process a crash test kills with SIGKILL.
import { candidatePurger } from '../../src/privacy/index.js';

const [target, candidateId] = process.argv.slice(2);
if (!target || !candidateId) throw new Error('usage: purge-child TARGET CANDIDATE_ID');
process.stdout.write('start\n');
await candidatePurger(target)([candidateId], 'deleted in Ashby');
process.stdout.write('done\n');
