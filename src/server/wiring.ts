import { describeScope } from '../ashby/catalogue.js';
import { AshbyClient } from '../ashby/client.js';
import type { Control } from '../control/open.js';
import { findOperation, WRITE_OPERATIONS } from '../push/operations/index.js';
import { findStream, STREAMS } from '../streams/index.js';
import { readFirstPage } from '../sync/first-page.js';
import { Vault } from '../vault/vault.js';
import { verifyKey } from '../vault/verify.js';
import {
  installWebhooks,
  listInstalled,
  secretNameFor,
  storeNewSecret,
  uninstallWebhooks,
} from '../webhooks/install.js';
import { VaultCredentialService } from './credentials.js';
import { SinkDatasetService } from './datasets.js';
import {
  dryRunDestination,
  flowOperation,
  type PushEngineOptions,
  pushEngine,
  sourceEngine,
} from './engines.js';
import { ValidationError } from './errors.js';
import type { DestinationFlowConfig } from './model.js';
import { LedgerQuarantineService } from './quarantine.js';
import type {
  CredentialService,
  OperationInfo,
  ServerServices,
  StreamInfo,
  WebhookService,
} from './services.js';

/** Every stream of the registry, as the console lists it. */
function streamInfos(): StreamInfo[] {
  return STREAMS.map((s) => ({
    name: s.name,
    endpoint: s.endpoint,
    incremental: s.incremental,
    scope: s.scope,
    permission: s.permission,
    description: s.description,
    optIn: s.optIn ?? false,
    cost: s.cost,
  }));
}

/** Destination operations, with the permission each needs. */
export function operationInfos(): OperationInfo[] {
  return WRITE_OPERATIONS.map(({ name, title, scope }) => {
    return {
      name,
      endpoint: name,
      scope,
      permission: describeScope(scope).label,
      description: title,
      fields: Object.entries(findOperation(name)?.fields ?? {})
        .map(([name, field]) => ({ name, required: field.required === true, type: field.type }))
        .sort((a, b) => Number(b.required) - Number(a.required)),
    };
  });
}

/** Reads the first page of a stream's endpoint (at most `limit` records) with a key. */
async function sample(
  access: { apiKey: string; baseUrl: string },
  stream: string,
  limit: number,
): Promise<unknown[]> {
  const def = findStream(stream);
  if (!def) return [];
  return readFirstPage(new AshbyClient({ apiKey: access.apiKey, baseUrl: access.baseUrl }), def, limit);
}

/** A destination flow's operation must exist and its mapping must not send one column to two fields. */
function checkDestination(config: DestinationFlowConfig): void {
  flowOperation(config);
  const seen = new Map<string, string>();
  for (const [field, column] of Object.entries(config.mapping)) {
    const other = seen.get(column);
    if (other !== undefined)
      throw new ValidationError(`the mapping sends column "${column}" to both ${other} and ${field}`, [
        { path: `mapping.${field}`, message: 'column already mapped' },
      ]);
    seen.set(column, field);
  }
}

/**
 * A console verification retries once, quickly: a person is waiting, and a server that refuses or never
 * answers is reported within seconds (the service's deadline bounds the whole verification).
 */
const VERIFY_RETRY = { limit: 2, backoffBaseMs: 250, backoffLimitMs: 1_000, maxRetryAfterMs: 2_000 };
/** One probe request's timeout during a console verification. */
const VERIFY_TIMEOUT_MS = 5_000;

/**
 * How long a webhook secret read from the vault is reused: every delivery needs it, and each read of the
 * vault is decrypted and audited. A secret replaced by the CLI while the server runs is seen this late.
 */
const SECRET_CACHE_MS = 60_000;

/** Webhook secrets and registrations of the vault's credentials (`webhook_installs` of the control store). */
function webhookService(vault: Vault, credentials: CredentialService): WebhookService {
  const cache = new Map<string, { secret: string | undefined; until: number }>();
  const client = async (id: string) => {
    const access = await credentials.access(id, 'webhooks install');
    return new AshbyClient({ apiKey: access.apiKey, baseUrl: access.baseUrl });
  };
  return {
    async secret(id) {
      const known = cache.get(id);
      if (known && known.until > Date.now()) return known.secret;
      const name = secretNameFor((await credentials.get(id)).name);
      const secret = (await vault.has(name))
        ? (await vault.reveal(name, 'webhooks receive')).apiKey
        : undefined;
      cache.set(id, { secret, until: Date.now() + SECRET_CACHE_MS });
      return secret;
    },
    async newSecret(id) {
      cache.delete(id);
      const credential = (await credentials.get(id)).name;
      return storeNewSecret(vault, credential, 'webhook secret token (set in Ashby by hand)');
    },
    installed: async (id) => listInstalled(vault.control.db, (await credentials.get(id)).name),
    async install(id, url, events) {
      cache.delete(id);
      return installWebhooks({
        client: await client(id),
        vault,
        credential: (await credentials.get(id)).name,
        url,
        events,
      });
    },
    uninstall: async (id) =>
      uninstallWebhooks({
        client: await client(id),
        db: vault.control.db,
        credential: (await credentials.get(id)).name,
      }),
  };
}

/** Options of {@link defaultServices}. */
export interface DefaultServicesOptions {
  /** Ashby base URL for credentials that do not name one. @default 'https://api.ashbyhq.com' */
  baseUrl?: string;
  /** Engines to use instead of the built-in sync and push engines (tests). */
  engines?: Partial<ServerServices['engines']>;
  /** Options of the built-in push engine. */
  push?: PushEngineOptions;
}

/** The server's services on top of the product's own layers: vault, verification probe, streams, sinks. */
export function defaultServices(
  control: Control,
  env: NodeJS.ProcessEnv,
  options: DefaultServicesOptions = {},
): ServerServices {
  const vault = new Vault(control, { home: control.home, env, actor: 'console' });
  const credentials = new VaultCredentialService(
    vault,
    (apiKey, baseUrl, signal) =>
      verifyKey(new AshbyClient({ apiKey, baseUrl, timeoutMs: VERIFY_TIMEOUT_MS, retry: VERIFY_RETRY }), {
        ...(signal ? { signal } : {}),
      }),
    options.baseUrl,
  );
  return {
    piiHashKey: { home: control.home, env, control },
    credentials,
    webhooks: webhookService(vault, credentials),
    streams: streamInfos,
    operations: operationInfos,
    engines: {
      source: options.engines?.source ?? sourceEngine({ home: control.home, env, control }, control),
      destination: options.engines?.destination ?? pushEngine(control, options.push),
    },
    quarantine: new LedgerQuarantineService(control),
    dryRunDestination: (config, access, limit) => dryRunDestination(control, config, access, limit),
    checkDestination,
    sample,
    datasets: new SinkDatasetService(),
  };
}
