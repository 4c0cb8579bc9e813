import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { assertBuilt, BIN } from '../support/built-cli.js';
import { call } from './helpers.js';

type R = Record<string, unknown> & { id: string };
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Received {
  body: string;
  signature: string | undefined;
}

/**
 * A loopback receiver that answers the statuses in `plan` in turn, then 200. Pings get `pingStatus` and
 * are kept apart in `pings`.
 */
async function receiver(
  plan: number[],
  pingStatus = 200,
): Promise<{ url: string; got: Received[]; pings: Received[]; server: Server }> {
  const got: Received[] = [];
  const pings: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const sig = req.headers['ashby-signature'];
      const text = Buffer.concat(chunks).toString('utf8');
      if ((JSON.parse(text) as { action?: string }).action === 'ping') {
        pings.push({ body: text, signature: typeof sig === 'string' ? sig : undefined });
        res.statusCode = pingStatus;
        res.end('ok');
        return;
      }
      got.push({
        body: Buffer.concat(chunks).toString('utf8'),
        signature: typeof sig === 'string' ? sig : undefined,
      });
      res.statusCode = plan.shift() ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, pings, server };
}

async function until(check: () => boolean, what: string, tries = 1000): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('webhook emission', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 60, seed: 5, webhookRetryBaseMs: 5 });
  });
  afterAll(() => sandbox?.close());

  it('POSTs {action, data} signed with the secret token, and retries a 5xx until it succeeds', async () => {
    const r = await receiver([503, 500]);
    try {
      const hook = await call(sandbox, 'webhook.create', {
        webhookType: 'candidateStageChange',
        requestUrl: r.url,
        secretToken: 's3cr3t',
      });
      expect(hook.body.success).toBe(true);
      const app = (sandbox.records('application.list', { body: { status: 'Active' } }) as R[])[0] as R;
      const stage = app.currentInterviewStage as R;
      const stages = (await call(sandbox, 'interviewStage.list', { interviewPlanId: stage.interviewPlanId }))
        .body.results as R[];
      const target = stages.find((s) => s.type === 'Active' && s.id !== stage.id) as R;
      await call(sandbox, 'application.changeStage', { applicationId: app.id, interviewStageId: target.id });
      await until(() => r.got.length >= 3, 'three attempts');
      const last = r.got[2] as Received;
      const payload = JSON.parse(last.body) as { action: string; data: { application: R } };
      expect(payload.action).toBe('candidateStageChange');
      expect(payload.data.application.id).toBe(app.id);
      const expected = `sha256=${createHmac('sha256', 's3cr3t').update(last.body).digest('hex')}`;
      expect(r.got.map((g) => g.signature)).toEqual([expected, expected, expected]);
      // The receiver sees the third request before the sandbox has recorded its answer.
      const attemptsOf = () =>
        sandbox
          .webhookDeliveries()
          .filter((d) => d.webhookId === (hook.body.results as R).id && d.action !== 'ping');
      await until(() => attemptsOf().length >= 3, 'three recorded deliveries');
      expect(attemptsOf().map((d) => d.status)).toEqual([503, 500, 200]);
    } finally {
      r.server.close();
    }
  });

  it('does not retry a 410 and sends deletes as candidateDelete', async () => {
    const r = await receiver([410]);
    try {
      const hook = await call(sandbox, 'webhook.create', {
        webhookType: 'candidateDelete',
        requestUrl: r.url,
        secretToken: 'x',
      });
      const candidate = (sandbox.records('candidate.list') as R[])[4] as R;
      sandbox.mutate.deleteCandidate(candidate.id);
      await until(() => r.got.length >= 1, 'one attempt');
      // Give a wrongly scheduled retry the time to happen (the base delay is 5 ms).
      await new Promise((res) => setTimeout(res, 100));
      expect(r.got).toHaveLength(1);
      const payload = JSON.parse((r.got[0] as Received).body) as { action: string; data: { candidate: R } };
      expect(payload).toMatchObject({ action: 'candidateDelete', data: { candidate: { id: candidate.id } } });
      const mine = sandbox
        .webhookDeliveries()
        .filter((d) => d.webhookId === (hook.body.results as R).id && d.action !== 'ping');
      expect(mine.map((d) => d.status)).toEqual([410]);
    } finally {
      r.server.close();
    }
  });
});

describe('webhook settings like Ashby', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 30, seed: 6, webhookRetryBaseMs: 5 });
  });
  afterAll(() => sandbox?.close());

  const deleteOne = (i: number) => {
    const candidate = (sandbox.records('candidate.list') as R[])[i] as R;
    sandbox.mutate.deleteCandidate(candidate.id);
    return candidate.id;
  };

  it('pings on create and edit; a failed ping disables the webhook until it is edited; delete stops it', async () => {
    const r = await receiver([], 500);
    try {
      const created = await call(sandbox, 'webhook.create', {
        webhookType: 'candidateDelete',
        requestUrl: r.url,
        secretToken: 'ping-secret',
      });
      const id = (created.body.results as R).id;
      await until(() => r.pings.length === 1, 'the ping');
      const ping = r.pings[0] as Received;
      expect(JSON.parse(ping.body)).toMatchObject({ action: 'ping', data: { webhookActionType: 'ping' } });
      expect(typeof JSON.parse(ping.body).webhookActionId).toBe('string');
      expect(ping.signature).toBe(
        `sha256=${createHmac('sha256', 'ping-secret').update(ping.body).digest('hex')}`,
      );
      await until(() => sandbox.world.get(id, 'webhook')?.enabled === false, 'the webhook disabled');
      deleteOne(1);
      await new Promise((res) => setTimeout(res, 100));
      expect(r.got).toHaveLength(0);

      r.server.close();
      const ok = await receiver([]);
      const updated = await call(sandbox, 'webhook.update', { webhookId: id, requestUrl: ok.url });
      expect(updated.body.success).toBe(true);
      await until(() => ok.pings.length === 1, 'the ping after the edit');
      const gone = deleteOne(2);
      await until(() => ok.got.length === 1, 'a delivery');
      expect(JSON.parse((ok.got[0] as Received).body)).toMatchObject({ data: { candidate: { id: gone } } });

      expect((await call(sandbox, 'webhook.delete', { webhookId: id })).body).toMatchObject({
        success: true,
        results: { webhookId: id },
      });
      deleteOne(3);
      await new Promise((res) => setTimeout(res, 100));
      expect(ok.got).toHaveLength(1);
      ok.server.close();
    } finally {
      r.server.close();
    }
  });

  it('sends one webhookActionId per event: the same in every retry and every webhook it fans out to', async () => {
    const a = await receiver([503, 502]);
    const b = await receiver([]);
    try {
      for (const url of [a.url, b.url]) {
        await call(sandbox, 'webhook.create', {
          webhookType: 'candidateDelete',
          requestUrl: url,
          secretToken: 's',
        });
      }
      await until(() => a.pings.length === 1 && b.pings.length === 1, 'both pings');
      deleteOne(5);
      await until(() => a.got.length === 3 && b.got.length === 1, 'three attempts and one delivery');
      const ids = [...a.got, ...b.got].map((g) => JSON.parse(g.body).webhookActionId as string);
      expect(new Set(ids).size).toBe(1);
      expect(JSON.parse((a.got[0] as Received).body).webhookActionId).not.toBe(
        JSON.parse((a.pings[0] as Received).body).webhookActionId,
      );
    } finally {
      a.server.close();
      b.server.close();
    }
  });
});

describe('ashpipe sandbox (the command)', () => {
  it('prints the URL, answers apiKey.info for sandbox-full and stops on SIGTERM', async () => {
    assertBuilt();
    const child = spawn(process.execPath, [BIN, 'sandbox', '--port', '0', '--scale', '50'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (codeValue) => resolve(codeValue)),
    );
    try {
      await until(() => /http:\/\/127\.0\.0\.1:\d+/.test(output), 'the URL line', 5000);
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(output)?.[0] as string;
      const res = await fetch(`${url}/apiKey.info`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from('sandbox-full:').toString('base64')}`,
        },
        body: '{}',
      });
      const body = (await res.json()) as { success: boolean; results: { scopes: string[] } };
      expect(body.success).toBe(true);
      expect(body.results.scopes).toContain('candidates:write');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 60_000);
});
