/**
 * The webhook benchmark's sender, in a process of its own so it does not take the receiver's CPU:
 * POSTs the signed deliveries, `concurrency` at a time, and prints `[[actionId, sentAtMs], …]` (wall-clock
 * milliseconds) once every delivery was answered 200.
 * `node --import tsx bench/webhooks-sender.ts URL LABEL EVENTS RECORDS CONCURRENCY SECRET`
 */
import { signBody } from '../src/webhooks/index.js';
import { deliveryBody } from './webhooks-payload.js';

const [url, label, events, records, concurrency, secret] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
];
const bodies = Array.from({ length: Number(events) }, (_, n) => deliveryBody(label, n, Number(records)));
const signatures = bodies.map((b) => signBody(b, secret));
const sent: Array<[string, number]> = [];
let next = 0;
await Promise.all(
  Array.from({ length: Number(concurrency) }, async () => {
    while (next < bodies.length) {
      const n = next++;
      sent.push([`bench-${label}-${n}`, performance.timeOrigin + performance.now()]);
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'ashby-signature': signatures[n] as string },
        body: bodies[n] as string,
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`delivery ${n} answered ${res.status}`);
    }
  }),
);
process.stdout.write(JSON.stringify(sent));
