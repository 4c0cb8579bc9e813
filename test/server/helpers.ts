import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Control, openControl } from '../../src/control/open.js';
import type { ControlStore } from '../../src/control/store.js';
import { createApp } from '../../src/server/app.js';
import type { LoginLimitOptions } from '../../src/server/auth.js';
import type { ServerDeps } from '../../src/server/context.js';
import { VaultCredentialService } from '../../src/server/credentials.js';
import { buildDeps } from '../../src/server/index.js';
import type { MetricsAccess } from '../../src/server/metrics.js';
import type { Flow } from '../../src/server/model.js';
import type {
  FlowEngine,
  RunContext,
  RunOutcome,
  ServerServices,
  VerifyKey,
} from '../../src/server/services.js';
import { defaultServices } from '../../src/server/wiring.js';
import { Logger } from '../../src/util/logger.js';
import type { ModulePermission, Verification } from '../../src/vault/types.js';
import { Vault } from '../../src/vault/vault.js';

export const PASSWORD = 'correct horse battery staple';

const MODULES: ModulePermission['module'][] = [
  'Candidates',
  'Jobs',
  'Interviews',
  'Offers',
  'Hiring Process',
  'Organization',
  'API Keys',
  'Approvals',
  'Reports',
];

/**
 * A stand-in for Ashby's verdict on a key: keys containing `bad` are rejected, keys containing `readonly`
 * may read every module and write none, any other key may do everything.
 */
export async function fakeVerify(apiKey: string): Promise<Verification> {
  const verifiedAt = new Date().toISOString();
  if (apiKey.includes('bad')) {
    return {
      status: 'invalid',
      verifiedAt,
      permissions: [],
      confidential: 'unknown',
      warnings: [],
      message: 'wrong or deactivated key',
    };
  }
  const write = apiKey.includes('readonly') ? 'missing' : 'allowed';
  return {
    status: 'valid',
    verifiedAt,
    permissions: MODULES.map((module) => ({ module, read: 'allowed', write })),
    confidential: write === 'allowed' ? 'yes' : 'no',
    warnings: [],
  };
}

/** An engine a test finishes by hand, to hold a run open. */
export class ControlledEngine {
  calls: Array<{ flow: Flow; ctx: RunContext }> = [];
  private resolvers: Array<(o: RunOutcome) => void> = [];
  readonly engine: FlowEngine = (flow, ctx) => {
    this.calls.push({ flow, ctx });
    ctx.progress({ counts: [{ name: 'candidates', status: 'running', read: 100, written: 100 }] });
    return new Promise((resolve) => this.resolvers.push(resolve));
  };
  finish(outcome?: Partial<RunOutcome>): void {
    const resolve = this.resolvers.shift();
    resolve?.({
      status: 'succeeded',
      counts: [{ name: 'candidates', status: 'succeeded', read: 250, written: 250 }],
      errors: [],
      ...outcome,
    });
  }
}

export interface Harness {
  home: string;
  /** The server's data directory (`home/data`): flow files live here. */
  data: string;
  /** The SQLite connection of the control store, for the modules not on the query layer yet. */
  control: ControlStore;
  /** The control store as the server opened it. */
  typed: Control;
  deps: ServerDeps;
  app: ReturnType<typeof createApp>;
  engine: ControlledEngine;
  logLines: string[];
  request(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/** A server on a fresh home with the real vault and store, a fake key verdict and a hand-driven engine. */
export async function harness(
  options: {
    env?: NodeJS.ProcessEnv;
    services?: Partial<ServerServices>;
    /** Ashby base URL of credentials (a sandbox). */
    baseUrl?: string;
    /** Destination flows run the real push engine instead of the hand-driven one. */
    realDestination?: boolean;
    /** Source flows run the real sync engine instead of the hand-driven one. */
    realSource?: boolean;
    /** Ashby's verdict on keys. @default {@link fakeVerify} */
    verify?: VerifyKey;
    /** Let credentials name a plain-http base URL on this machine. @default false */
    allowHttpBaseUrl?: boolean;
    /** Limits on failed logins. @default the server's */
    loginLimits?: LoginLimitOptions;
    /** Data directories flow files may live in. @default `home/data` */
    dataDirs?: readonly string[];
    /** Who may read `GET /metrics`. @default the server's (`loopback`) */
    metrics?: MetricsAccess;
  } = {},
): Promise<Harness> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
  const typed = await openControl({ home });
  const control = typed.sqlite!;
  const engine = new ControlledEngine();
  const logLines: string[] = [];
  const env = { ASHPIPE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'), ...options.env };
  const deps = await buildDeps(typed, {
    env,
    allowHttpBaseUrl: options.allowHttpBaseUrl ?? false,
    ...(options.dataDirs ? { dataDirs: options.dataDirs } : {}),
    ...(options.loginLimits ? { loginLimits: options.loginLimits } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    logger: new Logger({ level: 'debug', sink: (l) => logLines.push(l) }),
    services: (opened) => ({
      ...defaultServices(opened, env, {
        engines: {
          ...(options.realSource ? {} : { source: engine.engine }),
          ...(options.realDestination ? {} : { destination: engine.engine }),
        },
        push: { reconcileDelayMs: 0 },
        ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      }),
      // The real vault, with Ashby's verdict on keys faked.
      credentials: new VaultCredentialService(
        new Vault(typed, { home, env, actor: 'console' }),
        options.verify ?? fakeVerify,
        ...(options.baseUrl ? [options.baseUrl] : []),
      ),
      ...options.services,
    }),
  });
  const app = createApp(deps);
  await deps.scheduler.start();
  return {
    home,
    data: path.join(home, 'data'),
    control,
    typed,
    deps,
    app,
    engine,
    logLines,
    request: async (p, init) => app.request(p, init),
    close: async () => {
      while (engine.calls.length > 0 && deps.scheduler) {
        engine.finish();
        engine.calls.shift();
      }
      await deps.scheduler.stop({ abort: true });
      await typed.close();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Sets the console password up; resolves with the headers of the signed-in session (JSON requests). */
export async function signedInHeaders(h: Harness): Promise<Record<string, string> & { cookie: string }> {
  const res = await h.request('/api/v1/session/setup', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password: PASSWORD }),
  });
  return {
    cookie: (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '',
    'x-csrf-token': (await res.json().then(asJson)).csrfToken,
    'content-type': 'application/json',
  };
}

/**
 * A signed-in caller of the REST API served by `app` (the harness's own app by default): resolves with the
 * answer's JSON (`{}` for an empty answer) and throws with the status and body when it is not 2xx.
 */
export async function signedInCaller(
  h: Harness,
  app: { request: (path: string, init?: RequestInit) => Response | Promise<Response> } = h,
): Promise<(method: string, route: string, body?: unknown) => Promise<Json>> {
  const headers = await signedInHeaders(h);
  return async (method, route, body) => {
    const res = await app.request(`/api/v1${route}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
    return text === '' ? {} : JSON.parse(text);
  };
}

/** Parsed JSON of a response, loosely typed: tests assert on its shape. */
// biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary response JSON
export type Json = any;
export const asJson = (value: unknown): Json => value;
