// Purges one candidate from a target, saying when it starts: the process a crash test kills with SIGKILL.
// With `kill-after-jsonl-rename` it kills itself right after the first JSONL stream file is renamed over
// the old one, before the stream's state learns the new length: the moment a crash hurts most.
// Plain JavaScript on the built code (`npm run build`): it starts in a third of the time the sources take
// through tsx, and the test spawns it ten times.
import fs from 'node:fs';
import { candidatePurger } from '../../dist/privacy/index.js';

const [target, candidateId, fault] = process.argv.slice(2);
if (!target || !candidateId)
  throw new Error('usage: purge-child TARGET CANDIDATE_ID [kill-after-jsonl-rename]');
if (fault === 'kill-after-jsonl-rename') {
  const rename = fs.renameSync;
  fs.renameSync = (from, to) => {
    rename(from, to);
    if (String(to).endsWith('.jsonl')) process.kill(process.pid, 'SIGKILL');
  };
}
process.stdout.write('start\n');
await candidatePurger(target)([candidateId], 'deleted in Ashby');
process.stdout.write('done\n');
