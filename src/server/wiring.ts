import { describeScope, getEndpoint } from '../ashby/catalogue.js';
import { AshbyClient } from '../ashby/client.js';
import type { ControlStore } from '../control/store.js';
import { STREAMS } from '../streams/index.js';
import { Vault } from '../vault/vault.js';
import { verifyKey, WRITE_OPERATIONS } from '../vault/verify.js';
import { VaultCredentialService } from './credentials.js';
import { SinkDatasetService } from './datasets.js';
import { syncEngine } from './engines.js';
import type { FlowEngine, OperationInfo, ServerServices, StreamInfo } from './services.js';

/** Every stream of the registry, as the console lists it. */
export function streamInfos(): StreamInfo[] {
  return STREAMS.map((s) => ({
    name: s.name,
    endpoint: s.endpoint,
    incremental: s.incremental,
    scope: s.scope,
    permission: s.permission,
    description: s.description,
    optIn: s.optIn ?? false,
  }));
}

/** Destination operations, with the permission each needs. */
export function operationInfos(): OperationInfo[] {
  return WRITE_OPERATIONS.map((op) => {
    const endpoint = getEndpoint(op.endpoint);
    const scope = endpoint.scope!;
    return {
      name: op.endpoint,
      endpoint: op.endpoint,
      scope,
      permission: describeScope(scope).label,
      description: op.label,
      fields: [],
    };
  });
}

/** Reads the first page of a stream's endpoint (at most `limit` records) with a key. */
async function sample(
  access: { apiKey: string; baseUrl: string },
  stream: string,
  limit: number,
): Promise<unknown[]> {
  const def = STREAMS.find((s) => s.name === stream);
  if (!def) return [];
  const client = new AshbyClient({ apiKey: access.apiKey, baseUrl: access.baseUrl });
  const body = { ...(def.body?.({ includeArchived: false }) ?? {}) };
  const out: unknown[] = [];
  for await (const page of client.pages(def.endpoint, body, { limit })) {
    out.push(...page.results);
    break;
  }
  return out.slice(0, limit);
}

const unavailable =
  (what: string): FlowEngine =>
  async () => {
    throw new Error(`the ${what} engine is not available in this build`);
  };

/** Options of {@link defaultServices}. */
export interface DefaultServicesOptions {
  /** Ashby base URL for credentials that do not name one. @default 'https://api.ashbyhq.com' */
  baseUrl?: string;
  /** Engines to use instead of the built-in sync and push engines (tests). */
  engines?: Partial<ServerServices['engines']>;
}

/** The server's services on top of the product's own layers: vault, verification probe, streams, sinks. */
export function defaultServices(
  store: ControlStore,
  env: NodeJS.ProcessEnv,
  options: DefaultServicesOptions = {},
): ServerServices {
  const vault = new Vault(store, { home: store.home, env, actor: 'console' });
  return {
    credentials: new VaultCredentialService(
      vault,
      (apiKey, baseUrl) => verifyKey(new AshbyClient({ apiKey, baseUrl })),
      options.baseUrl,
    ),
    streams: streamInfos,
    operations: operationInfos,
    engines: {
      source: options.engines?.source ?? syncEngine,
      destination: options.engines?.destination ?? unavailable('push'),
    },
    sample,
    datasets: new SinkDatasetService(),
  };
}
