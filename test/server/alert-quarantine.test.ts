import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type HttpReceiver, startHttpReceiver } from '../support/alert-receivers.js';
import { asJson, type Harness, harness, signedInCaller } from './helpers.js';

const KEY = 'sandbox-full';
const FLOW = 'Hires import';

/** Rows of a `candidate.create` input: named people are sent, rows without a name are quarantined. */
function csv(named: string[], nameless: string[]): string {
  return [
    'Full Name,Email',
    ...named.map((n) => `${n},${n.toLowerCase().replace(/ /g, '.')}@example.com`),
    ...nameless.map((email) => `,${email}`),
  ].join('\n');
}

/** The `records_quarantined` alert of a destination flow, from its push runs to a real HTTP receiver. */
describe('alerts on quarantined records', () => {
  let sandbox: Sandbox;
  let hook: HttpReceiver;
  let h: Harness | undefined;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, scale: 10 });
    hook = await startHttpReceiver();
  });
  afterAll(async () => {
    await h?.close();
    await sandbox?.close();
    await hook?.close();
  });

  it('tells once when a run quarantines more records than the threshold, and when one stays under it', async () => {
    h = await harness({ baseUrl: sandbox.url, realDestination: true, allowHttpBaseUrl: true });
    const harnessed = h;
    const call = await signedInCaller(harnessed);
    await call('POST', '/alert-channels', { type: 'webhook', name: 'hook', url: hook.url });
    const credentialId = (await call('POST', '/credentials', { name: 'sandbox', apiKey: KEY })).credential.id;
    // The input is a file dropped in the data directory before each run.
    const input = path.join(harnessed.data, 'hires.csv');
    fs.writeFileSync(input, csv(['Ada Quarantine'], ['q1@example.com', 'q2@example.com', 'q3@example.com']));
    const { flow } = await call('POST', '/flows', {
      kind: 'destination',
      name: FLOW,
      credentialId,
      operation: 'candidate.create',
      input: { type: 'csv', path: input },
      mapping: { name: 'Full Name', email: 'Email' },
      options: { alerts: { quarantineThreshold: 2 } },
    });
    /** Runs the flow now, waits for its end and for its alerts to be sent. */
    const runOnce = async () => {
      const { run } = await call('POST', `/flows/${flow.id}/run`);
      const finished = await harnessed.deps.scheduler.waitFor(run.id);
      await harnessed.deps.alerting?.idle();
      if (!finished) throw new Error('the run did not finish');
      return finished;
    };

    // Three rows without a name: over the threshold of two.
    const first = await runOnce();
    expect(first.status).toBe('partial');
    expect(first.counts).toEqual([
      expect.objectContaining({ name: 'candidate.create', read: 4, written: 1, quarantined: 3 }),
    ]);
    expect(sandbox.stats().writes['candidate.create']).toBe(1);
    expect(hook.posts).toHaveLength(1);
    const opened = asJson(hook.posts[0]);
    expect(opened).toMatchObject({
      source: 'ashpipe',
      event: 'records_quarantined',
      state: 'open',
      incident: `records_quarantined:${flow.id}`,
      flow: { id: flow.id, name: FLOW },
      details: { quarantined: 3 },
    });
    expect(opened.title).toContain(`"${FLOW}"`);
    expect(opened.title).toContain('3 records');
    expect(opened.text).toContain(`"${FLOW}"`);
    expect(opened.text).toContain('3 record');

    // The next file has one row without a name: under the threshold, the incident ends.
    fs.writeFileSync(input, csv(['Bo Quarantine', 'Cy Quarantine'], ['q4@example.com']));
    const second = await runOnce();
    expect(second.status).toBe('partial');
    expect(second.counts).toEqual([
      expect.objectContaining({ name: 'candidate.create', read: 3, written: 2, quarantined: 1 }),
    ]);
    expect(hook.posts).toHaveLength(2);
    const recovered = asJson(hook.posts[1]);
    expect(recovered).toMatchObject({
      source: 'ashpipe',
      event: 'records_quarantined',
      state: 'recovered',
      incident: `records_quarantined:${flow.id}`,
      flow: { id: flow.id, name: FLOW },
    });
    // Under the threshold is not nothing: the message says how many, and what the threshold is.
    expect(recovered.title).toBe(`Flow "${FLOW}" quarantines fewer records than its threshold again`);
    expect(recovered.text).toBe(`The last run of flow "${FLOW}" quarantined 1 record (the threshold is 2).`);
  }, 60_000);
});
