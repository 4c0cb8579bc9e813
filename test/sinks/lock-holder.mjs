// Takes a stream's lock in a target and holds it until killed: the holder a lock test kills with SIGKILL.
// Plain JavaScript on the built code (`npm run build`): it starts in a fraction of the time the sources
// take through tsx.
import { openSink } from '../../dist/sinks/index.js';

const [target, stream] = process.argv.slice(2);
if (!target || !stream) throw new Error('usage: lock-holder TARGET STREAM');
const sink = openSink(target);
await sink.open();
const attempt = await sink.lock(stream, 'lock-holder');
process.stdout.write(`${JSON.stringify({ acquired: attempt.acquired, pid: process.pid })}\n`);
setInterval(() => {}, 60_000);
