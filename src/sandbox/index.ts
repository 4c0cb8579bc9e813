/**
 * An Ashby-compatible HTTP server for tests, the demo and benchmarks: seeded data at any scale, per-key
 * scopes and confidential access, opaque cursors, syncTokens over a change log, validated writes and
 * fault injection. It speaks the same HTTP contract as api.ashbyhq.com.
 */
import { ALL_SCOPES, findEndpoint, type Scope } from '../ashby/catalogue.js';
import { Codec } from './codec.js';
import type { SandboxKey } from './context.js';
import { type FaultConfig, Faults } from './faults.js';
import { runEndpoint } from './handlers/engine.js';
import { HANDLERS } from './handlers/index.js';
import type { Kind } from './ids.js';
import { Rng } from './prng.js';
import { createSandboxServer, emptyStats, listen, type SandboxStats } from './server.js';
import { type WebhookDelivery, WebhookEmitter } from './webhooks.js';
import { type Rec, World } from './world.js';

export type { SandboxKey } from './context.js';
export type { FaultConfig } from './faults.js';
export { parseFaults } from './faults.js';
export { IMPLEMENTED_ENDPOINTS } from './handlers/index.js';
export type { SandboxStats } from './server.js';
export type { WebhookDelivery } from './webhooks.js';

/** How to start a sandbox. */
export interface SandboxOptions {
  /**
   * TCP port; 0 picks a free one.
   * @default 0
   */
  port?: number;
  /**
   * Interface to bind.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Seed of the generated data: the same seed and scale always give the same records and ids.
   * @default 1
   */
  seed?: number;
  /**
   * Number of seeded candidates; every other count derives from it.
   * @default 1000
   * @example 1_000_000
   */
  scale?: number;
  /** Keys accepted in addition to `sandbox-full` and `sandbox-read`. */
  keys?: SandboxKey[];
  /** Faults active from the start. */
  faults?: Partial<FaultConfig>;
  /**
   * Incremental requests (with a `syncToken`) whose changes would fill more pages than this answer
   * `incremental_sync_too_large`, as Ashby does since May 2026.
   * @default 50
   * @example 2
   */
  maxIncrementalPages?: number;
  /**
   * Base of the webhook retry delays: attempt n waits (2^n − 1) × this many milliseconds (Ashby: 10 s).
   * @default 10_000
   * @example 5
   */
  webhookRetryBaseMs?: number;
  /**
   * Endpoints answered as unknown (`unknown_endpoint`, HTTP 404), as for an account or key that does not
   * have them: e.g. the 2026 `application.listHistory`, to exercise a reader's fallback.
   * @default none
   * @example ['application.listHistory']
   */
  unservedEndpoints?: readonly string[];
}

/** A running sandbox. */
export interface Sandbox {
  /** Base URL, e.g. `http://127.0.0.1:4010`. */
  url: string;
  port: number;
  close(): Promise<void>;
  faults: { set(faults: Partial<FaultConfig>): void; reset(): void };
  stats(): SandboxStats;
  resetStats(): void;
  /** Exactly what a key would read from a list endpoint, all pages, in order (for tests to compare). */
  records(endpoint: string, options?: { apiKey?: string; body?: Record<string, unknown> }): unknown[];
  /** Mutations for tests, the demo and benchmarks; each goes through the change log like an API write. */
  mutate: {
    updateCandidate(id: string, patch: Record<string, unknown>): void;
    deleteCandidate(id: string): void;
    churn(fraction: number, seed?: number): { changed: number };
  };
  /** The data model, for tests that need to look inside (generated-record counter, change log). */
  readonly world: World;
  /** A cursor of a full walk of `endpoint` positioned at `position`, to fetch a deep page directly. */
  cursorAt(endpoint: string, position: number): string;
  /** Webhook deliveries made so far (each attempt), oldest first. */
  webhookDeliveries(): WebhookDelivery[];
}

const READ_SCOPES: readonly Scope[] = ALL_SCOPES.filter((s) => s.endsWith('Read'));

/** The keys every sandbox accepts. */
const DEFAULT_KEYS: readonly SandboxKey[] = [
  { key: 'sandbox-full', title: 'Sandbox full access', scopes: ALL_SCOPES, confidential: true },
  { key: 'sandbox-read', title: 'Sandbox read only', scopes: READ_SCOPES, confidential: false },
];

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const world = new World(options.seed ?? 1, options.scale ?? 1000);
  if (options.maxIncrementalPages !== undefined) {
    if (!Number.isInteger(options.maxIncrementalPages) || options.maxIncrementalPages < 1)
      throw new Error('maxIncrementalPages must be a positive integer');
    world.maxIncrementalPages = options.maxIncrementalPages;
  }
  const webhooks = new WebhookEmitter(world, options.webhookRetryBaseMs ?? 10_000);
  const faults = new Faults(options.faults ?? {});
  const codec = new Codec();
  const keys = new Map<string, SandboxKey>();
  for (const k of [...DEFAULT_KEYS, ...(options.keys ?? [])]) keys.set(k.key, k);
  const stats = { current: emptyStats() };

  const mutate: Sandbox['mutate'] = {
    updateCandidate(id, patch) {
      if (!world.update(id, patch)) throw new Error(`no candidate ${id}`);
    },
    deleteCandidate(id) {
      if (!world.delete(id)) throw new Error(`no candidate ${id}`);
    },
    churn(fraction, seed = 1) {
      return churn(world, fraction, seed);
    },
  };

  const records: Sandbox['records'] = (endpoint, opts = {}) => {
    const key = keys.get(opts.apiKey ?? 'sandbox-full');
    if (!key) throw new Error('unknown key');
    const spec = findEndpoint(endpoint);
    const handler = HANDLERS.get(endpoint);
    if (!spec || !handler || spec.access !== 'read')
      throw new Error(`the sandbox has no list endpoint "${endpoint}"`);
    const out: unknown[] = [];
    let body: Record<string, unknown> = { ...(opts.body ?? {}) };
    for (;;) {
      const ctx = { endpoint, body, key, world, codec, faults: new Faults() };
      const page = runEndpoint({ spec, handler }, ctx);
      if (Array.isArray(page.results)) out.push(...page.results);
      else out.push(page.results);
      if (!page.moreDataAvailable || !page.nextCursor) break;
      body = { ...body, cursor: page.nextCursor };
    }
    return out;
  };

  const server = createSandboxServer({
    world,
    faults,
    keys,
    codec,
    stats,
    unserved: new Set(options.unservedEndpoints ?? []),
    control: {
      stats: () => structuredClone(stats.current),
      resetStats: () => {
        stats.current = emptyStats();
      },
      mutate: (op, body) => {
        if (op === 'updateCandidate') {
          const patch =
            typeof body.patch === 'object' && body.patch !== null
              ? (body.patch as Record<string, unknown>)
              : {};
          mutate.updateCandidate(String(body.id), patch);
          return { ok: true };
        }
        if (op === 'deleteCandidate') {
          mutate.deleteCandidate(String(body.id));
          return { ok: true };
        }
        if (op === 'churn') {
          return mutate.churn(Number(body.fraction), body.seed === undefined ? 1 : Number(body.seed));
        }
        throw new Error(`unknown mutation "${op}"`);
      },
    },
  });
  // Keep-alive sockets would hold close() open; the sandbox is short-lived in tests.
  server.keepAliveTimeout = 1000;
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, options.port ?? 0, host);

  return {
    url: `http://${host}:${port}`,
    port,
    world,
    close: () =>
      new Promise<void>((resolve, reject) => {
        webhooks.close();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
    faults: { set: (f) => faults.set(f), reset: () => faults.reset() },
    stats: () => structuredClone(stats.current),
    resetStats: () => {
      stats.current = emptyStats();
    },
    records,
    mutate,
    webhookDeliveries: () => webhooks.deliveries.map((d) => ({ ...d })),
    cursorAt: (endpoint, position) =>
      codec.cursor({
        e: endpoint,
        p: position,
        s: world.seq,
        n: world.size((endpoint.split('.')[0] ?? '') as Kind),
        g: 1,
        x: Date.now() + 3_600_000,
      }),
  };
}

/** Updates a fraction of candidates and applications through the change log (benchmarks, demo). */
function churn(world: World, fraction: number, seed: number): { changed: number } {
  if (!(fraction >= 0 && fraction <= 1)) throw new Error('fraction must be between 0 and 1');
  const rng = new Rng(seed);
  let changed = 0;
  for (const kind of ['candidate', 'application'] as const) {
    const size = world.size(kind);
    const n = Math.round(size * fraction);
    // Evenly spaced with a random offset: touches n distinct records without a set proportional to size.
    const step = n > 0 ? size / n : 0;
    const offset = rng.next() * step;
    for (let i = 0; i < n; i++) {
      const id = world.idAt(kind, Math.min(size - 1, Math.floor(offset + i * step)));
      const rec = world.get(id, kind);
      if (!rec) continue;
      const patch: Rec = { id };
      if (kind === 'candidate') patch.position = `Churned ${rng.int(1, 1_000_000)}`;
      world.update(id, kind === 'candidate' ? patch : {});
      changed++;
    }
  }
  return { changed };
}
