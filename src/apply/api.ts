/**
 * The few REST calls `ashpipe apply` and `ashpipe export` make to a running `ashpipe serve`, with an API
 * token. They go through the API, not the control store, so a file applies the same way to the server on
 * this machine and to one behind a proxy elsewhere, with the same validation the console gets.
 */
import {
  type AlertChannel,
  APPLY_HEADER,
  type Credential,
  type CredentialList,
  type Flow,
  type FlowConfig,
} from '../server/api-schema.js';
import { ConfigError } from '../util/errors.js';

/** Where the server is and how to reach it. */
export interface ServerConnection {
  /** Base URL of `ashpipe serve`. @example 'http://127.0.0.1:4100' */
  url: string;
  /** An API token (Settings › API tokens in the console). */
  token: string;
}

/** An answer of the server other than 2xx, with its message. */
export class ServerError extends Error {
  override name = 'ServerError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The REST client of {@link ServerConnection}. */
export class AshpipeApi {
  private readonly base: string;

  constructor(private readonly conn: ServerConnection) {
    this.base = `${conn.url.replace(/\/+$/, '')}/api/v1`;
  }

  private async call<T>(method: string, route: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${route}`, {
        method,
        headers: {
          authorization: `Bearer ${this.conn.token}`,
          // The server warns of changes to a managed flow made elsewhere; these are the file's own.
          [APPLY_HEADER]: '1',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(120_000),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new ConfigError(`cannot reach the ashpipe server at ${this.conn.url} (${cause})`);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const error = (json as { error?: { code?: string; message?: string; details?: unknown } } | undefined)
        ?.error;
      const details = Array.isArray(error?.details)
        ? (error.details as Array<{ path?: string; message?: string }>)
            .map((d) => `${d.path ?? ''}: ${d.message ?? ''}`)
            .join('; ')
        : '';
      if (res.status === 401)
        throw new ConfigError(
          `the ashpipe server at ${this.conn.url} refused the API token (401): create one in Settings › API tokens`,
        );
      throw new ServerError(
        res.status,
        error?.code ?? String(res.status),
        `${method} ${route}: ${res.status} ${error?.message ?? res.statusText}${details ? ` (${details})` : ''}`,
      );
    }
    return json as T;
  }

  credentials(): Promise<CredentialList> {
    return this.call('GET', '/credentials');
  }
  async createCredential(body: {
    name: string;
    description?: string;
    apiKey: string;
    baseUrl?: string;
  }): Promise<Credential> {
    return (await this.call<{ credential: Credential }>('POST', '/credentials', body)).credential;
  }
  async editCredential(id: string, body: { description: string }): Promise<Credential> {
    return (await this.call<{ credential: Credential }>('PATCH', `/credentials/${id}`, body)).credential;
  }
  async flows(): Promise<Flow[]> {
    return (await this.call<{ flows: Flow[] }>('GET', '/flows')).flows;
  }
  async createFlow(config: FlowConfig, activate: boolean): Promise<Flow> {
    return (await this.call<{ flow: Flow }>('POST', `/flows${activate ? '?activate=true' : ''}`, config))
      .flow;
  }
  async updateFlow(id: string, config: FlowConfig): Promise<Flow> {
    return (await this.call<{ flow: Flow }>('PUT', `/flows/${id}`, config)).flow;
  }
  async setFlowActive(id: string, active: boolean): Promise<void> {
    await this.call('POST', `/flows/${id}/${active ? 'activate' : 'pause'}`);
  }
  deleteFlow(id: string): Promise<void> {
    return this.call('DELETE', `/flows/${id}`);
  }
  async channels(): Promise<AlertChannel[]> {
    return (await this.call<{ channels: AlertChannel[] }>('GET', '/alert-channels')).channels;
  }
  async createChannel(body: Record<string, unknown>): Promise<AlertChannel> {
    return (await this.call<{ channel: AlertChannel }>('POST', '/alert-channels', body)).channel;
  }
  async updateChannel(id: string, body: Record<string, unknown>): Promise<AlertChannel> {
    return (await this.call<{ channel: AlertChannel }>('PUT', `/alert-channels/${id}`, body)).channel;
  }
  deleteChannel(id: string): Promise<void> {
    return this.call('DELETE', `/alert-channels/${id}`);
  }
  async webhooksEnabled(id: string): Promise<boolean> {
    return (await this.call<{ enabled: boolean }>('GET', `/flows/${id}/webhooks`)).enabled;
  }
  async setWebhooks(id: string, enabled: boolean): Promise<void> {
    await this.call('PUT', `/flows/${id}/webhooks`, { enabled });
  }
}
