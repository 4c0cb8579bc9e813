/**
 * What `ashpipe apply` would change: the file's credentials and flows against the server's, as a list of
 * creates, updates and deletes (like `terraform plan`). Pure: the plan is computed from the two sides, so
 * it is the same whether it is printed (`--dry-run`) or carried out.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  type AlertChannel,
  type Credential,
  createFlowSchema,
  type Flow,
  type FlowConfig,
} from '../server/api-schema.js';
import { ConfigError } from '../util/errors.js';
import type { FileChannel, FileFlow, LoadedFlowsFile } from './file.js';

/** A channel's settings without its secrets: what the file says and what the server shows alike. */
export type ChannelSettings = Record<string, unknown> & { type: 'webhook' | 'email'; name: string };

/** One field that differs: where, and its value on the server and in the file. */
export interface FieldChange {
  /** `schedule`, `options.history`, `target.path`… */
  path: string;
  from: unknown;
  to: unknown;
}

export type PlanStep =
  | {
      action: 'create';
      kind: 'credential';
      name: string;
      description?: string;
      baseUrl?: string;
      apiKeyEnv: string;
    }
  | {
      action: 'update';
      kind: 'credential';
      name: string;
      id: string;
      changes: FieldChange[];
      description: string;
    }
  | {
      action: 'create';
      kind: 'flow';
      name: string;
      /** The credential's name: its id may not exist until the plan runs. */
      credential: string;
      config: FlowConfig;
      active: boolean;
      webhooks?: boolean;
    }
  | {
      action: 'update';
      kind: 'flow';
      name: string;
      id: string;
      credential: string;
      /** Differences of the stored configuration; empty when only the status or webhooks change. */
      changes: FieldChange[];
      config: FlowConfig;
      /** Set when the flow must be activated (true) or paused (false). */
      active?: boolean;
      /** Set when webhooks must be turned on (true) or off (false). */
      webhooks?: boolean;
      /** The flow was made in the console or the API: the file now manages it. */
      adopted: boolean;
    }
  | { action: 'delete'; kind: 'flow'; name: string; id: string }
  | {
      action: 'create';
      kind: 'channel';
      name: string;
      settings: ChannelSettings;
      /** The environment variable of its secret (webhook URL, SMTP password), read when the step runs. */
      secretEnv?: string;
    }
  | {
      action: 'update';
      kind: 'channel';
      name: string;
      id: string;
      changes: FieldChange[];
      /** Its secrets are not sent: the server keeps the stored ones. */
      settings: ChannelSettings;
      adopted: boolean;
    }
  | { action: 'delete'; kind: 'channel'; name: string; id: string };

export interface Plan {
  steps: PlanStep[];
  /** Flows and channels the file manages no longer listed, kept because `--prune` was not given. */
  keptWithoutPrune: Array<{ id: string; name: string; kind?: 'flow' | 'channel' }>;
  unchanged: number;
}

/** The server's side, as its REST API lists it. */
export interface ServerState {
  credentials: readonly Credential[];
  flows: readonly Flow[];
  /** Notification channels, as `GET /alert-channels` lists them. @default none */
  channels?: readonly AlertChannel[];
}

/** The settings a file channel asks for, with the server's defaults filled in, secrets left out. */
export function fileChannelSettings(c: FileChannel, managedBy: string): ChannelSettings {
  if (c.type === 'webhook')
    return {
      type: 'webhook',
      name: c.name,
      format: c.format ?? 'json',
      ...(c.events ? { events: c.events } : {}),
      managedBy,
    };
  const { passwordEnv: _secret, ...smtp } = c.smtp;
  return {
    type: 'email',
    name: c.name,
    to: c.to,
    from: c.from,
    smtp: { ...smtp, port: smtp.port ?? 587, secure: smtp.secure ?? false },
    ...(c.events ? { events: c.events } : {}),
    managedBy,
  };
}

/** A server channel's settings as {@link fileChannelSettings} gives them (what the API shows of it). */
export function serverChannelSettings(c: AlertChannel): ChannelSettings {
  const common = {
    type: c.type,
    name: c.name,
    ...(c.events ? { events: c.events } : {}),
    ...(c.managedBy ? { managedBy: c.managedBy } : {}),
  };
  if (c.type === 'webhook') return { ...common, format: c.format ?? 'json' };
  const smtp = c.smtp ?? { host: '', port: 587, secure: false, passwordSet: false };
  return {
    ...common,
    to: c.to ?? [],
    from: c.from ?? '',
    smtp: {
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure,
      ...(smtp.user === undefined ? {} : { user: smtp.user }),
      // A password the server reads from its own environment stays: the file only names secrets apply reads.
      ...(smtp.passwordEnv === undefined ? {} : { passwordEnv: smtp.passwordEnv }),
    },
  };
}

/** Leaf differences between two JSON values, by dotted path (arrays compared whole). */
export function diffValues(from: unknown, to: unknown, at = ''): FieldChange[] {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(from) && isObject(to)) {
    const keys = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort();
    return keys.flatMap((k) => diffValues(from[k], to[k], at === '' ? k : `${at}.${k}`));
  }
  return isDeepStrictEqual(from, to) ? [] : [{ path: at, from, to }];
}

/**
 * The configuration the server would store for a file flow: the API's own schema fills the defaults, so
 * that a file that leaves a default out equals a flow the console saved with it.
 */
function desiredConfig(
  flow: FileFlow,
  credentialId: string,
  managedBy: string,
  webhooks: unknown,
): FlowConfig {
  const { credential: _credential, active: _active, options, ...rest } = flow;
  const body: Record<string, unknown> = { ...rest, credentialId, options: { ...options, managedBy } };
  if ('webhooks' in body) delete body.webhooks;
  // Webhooks are turned on and off through their own route (which also starts or stops the receiver);
  // the stored configuration keeps what the server has until then.
  if (webhooks !== undefined) (body.options as Record<string, unknown>).webhooks = webhooks;
  return createFlowSchema.parse(body) as FlowConfig;
}

/** Computes the plan of `loaded` against `server`; `prune` deletes managed flows the file leaves out. */
export function planApply(loaded: LoadedFlowsFile, server: ServerState, options: { prune: boolean }): Plan {
  const { file, managedBy } = loaded;
  const steps: PlanStep[] = [];
  let unchanged = 0;
  const byName = <T extends { name: string; id: string }>(list: readonly T[], what: string) => {
    const out = new Map<string, T>();
    for (const item of list) {
      const other = out.get(item.name);
      if (other)
        throw new ConfigError(
          `the server has two ${what} named "${item.name}" (${other.id} and ${item.id}): rename one so the file can name it`,
        );
      out.set(item.name, item);
    }
    return out;
  };
  const credentials = byName(server.credentials, 'credentials');
  const flows = new Map<string, Flow[]>();
  for (const f of server.flows) flows.set(f.name, [...(flows.get(f.name) ?? []), f]);

  for (const [i, c] of file.credentials.entries()) {
    const existing = credentials.get(c.name);
    if (!existing) {
      if (c.apiKeyEnv === undefined)
        throw new ConfigError(
          `credentials[${i}] "${c.name}" does not exist on the server: give apiKeyEnv, the environment variable holding its key, to create it`,
        );
      steps.push({
        action: 'create',
        kind: 'credential',
        name: c.name,
        apiKeyEnv: c.apiKeyEnv,
        ...(c.description === undefined ? {} : { description: c.description }),
        ...(c.baseUrl === undefined ? {} : { baseUrl: c.baseUrl }),
      });
      continue;
    }
    if (
      c.baseUrl !== undefined &&
      c.baseUrl.replace(/\/+$/, '') !== (existing.baseUrl ?? '').replace(/\/+$/, '')
    )
      throw new ConfigError(
        `credentials[${i}] "${c.name}": the server's credential is for ${existing.baseUrl ?? 'the default Ashby server'}, the file says ${c.baseUrl}; a credential's server cannot change (add one under another name)`,
      );
    const changes =
      c.description === undefined ? [] : diffValues(existing.description ?? '', c.description, 'description');
    if (changes.length > 0)
      steps.push({
        action: 'update',
        kind: 'credential',
        name: c.name,
        id: existing.id,
        changes,
        description: c.description ?? '',
      });
    else unchanged++;
  }

  const serverChannels = server.channels ?? [];
  const storedChannels = byName(
    serverChannels.filter((c) => c.source === 'console'),
    'channels',
  );
  const readOnlyChannels = new Set(serverChannels.filter((c) => c.source === 'file').map((c) => c.name));
  for (const [i, c] of file.channels.entries()) {
    if (readOnlyChannels.has(c.name))
      throw new ConfigError(
        `channels[${i}] "${c.name}" is a channel of the server's --alert-channels file: it cannot be managed here (rename one)`,
      );
    const existing = storedChannels.get(c.name);
    const settings = fileChannelSettings(c, managedBy);
    const secretEnv = c.type === 'webhook' ? c.urlEnv : c.smtp.passwordEnv;
    if (!existing) {
      steps.push({
        action: 'create',
        kind: 'channel',
        name: c.name,
        settings,
        ...(secretEnv === undefined ? {} : { secretEnv }),
      });
      continue;
    }
    if (existing.type !== c.type)
      throw new ConfigError(
        `channels[${i}] "${c.name}" is a ${c.type} channel in the file and a ${existing.type} channel on the server: a channel cannot change type (rename one)`,
      );
    const current = serverChannelSettings(existing);
    // A password the server reads from its environment is kept: the file cannot say it.
    const wanted =
      settings.type === 'email' && current.type === 'email'
        ? {
            ...settings,
            smtp: {
              ...(settings.smtp as Record<string, unknown>),
              ...((current.smtp as { passwordEnv?: string }).passwordEnv === undefined
                ? {}
                : { passwordEnv: (current.smtp as { passwordEnv?: string }).passwordEnv }),
            },
          }
        : settings;
    const changes = diffValues(current, wanted);
    if (changes.length === 0) {
      unchanged++;
      continue;
    }
    steps.push({
      action: 'update',
      kind: 'channel',
      name: c.name,
      id: existing.id,
      changes,
      settings: wanted,
      adopted: existing.managedBy !== managedBy,
    });
  }
  const channelNames = new Set([...serverChannels.map((c) => c.name), ...file.channels.map((c) => c.name)]);

  const fileCredentials = new Set(file.credentials.map((c) => c.name));
  const listed = new Set<string>();
  for (const [i, f] of file.flows.entries()) {
    listed.add(f.name);
    const credential = credentials.get(f.credential);
    if (!credential && !fileCredentials.has(f.credential))
      throw new ConfigError(
        `flows[${i}] "${f.name}": no credential named "${f.credential}" in the file or on the server`,
      );
    const picked = (f.options as { alerts?: { channels?: string[] } } | undefined)?.alerts?.channels ?? [];
    const unknown = picked.filter((name) => !channelNames.has(name));
    if (unknown.length > 0)
      throw new ConfigError(
        `flows[${i}] "${f.name}": options.alerts.channels names ${unknown.map((n) => `"${n}"`).join(', ')}, which is no channel of the file or the server`,
      );
    // A credential the plan creates has no id yet: the placeholder is replaced when the step runs.
    const credentialId = credential?.id ?? `(credential ${f.credential})`;
    const active = f.active ?? true;
    const candidates = flows.get(f.name) ?? [];
    if (candidates.length > 1)
      throw new ConfigError(
        `the server has ${candidates.length} flows named "${f.name}" (${candidates.map((c) => c.id).join(', ')}): rename or delete all but one so the file can name it`,
      );
    const existing = candidates[0];
    const wantWebhooks = f.kind === 'source' ? f.webhooks : undefined;
    if (!existing) {
      steps.push({
        action: 'create',
        kind: 'flow',
        name: f.name,
        credential: f.credential,
        config: desiredConfig(f, credentialId, managedBy, undefined),
        active,
        ...(wantWebhooks === undefined ? {} : { webhooks: wantWebhooks }),
      });
      continue;
    }
    if (existing.kind !== f.kind)
      throw new ConfigError(
        `flows[${i}] "${f.name}" is a ${f.kind} flow in the file and a ${existing.kind} flow on the server: a flow cannot change kind (rename one)`,
      );
    const currentWebhooks = (existing.config.options as Record<string, unknown>).webhooks;
    const config = desiredConfig(f, credentialId, managedBy, currentWebhooks);
    const changes = diffValues(existing.config, config);
    const isActive = existing.status === 'active';
    const webhooksChange =
      wantWebhooks !== undefined && wantWebhooks !== (currentWebhooks === true) ? wantWebhooks : undefined;
    if (changes.length === 0 && isActive === active && webhooksChange === undefined) {
      unchanged++;
      continue;
    }
    steps.push({
      action: 'update',
      kind: 'flow',
      name: f.name,
      id: existing.id,
      credential: f.credential,
      changes,
      config,
      adopted: (existing.config.options as Record<string, unknown>).managedBy !== managedBy,
      ...(isActive === active ? {} : { active }),
      ...(webhooksChange === undefined ? {} : { webhooks: webhooksChange }),
    });
  }

  const keptWithoutPrune: Plan['keptWithoutPrune'] = [];
  for (const f of server.flows) {
    if (listed.has(f.name)) continue;
    if ((f.config.options as Record<string, unknown>).managedBy !== managedBy) continue;
    if (options.prune) steps.push({ action: 'delete', kind: 'flow', name: f.name, id: f.id });
    else keptWithoutPrune.push({ id: f.id, name: f.name });
  }
  const listedChannels = new Set(file.channels.map((c) => c.name));
  for (const c of serverChannels) {
    if (c.source !== 'console' || listedChannels.has(c.name) || c.managedBy !== managedBy) continue;
    if (options.prune) steps.push({ action: 'delete', kind: 'channel', name: c.name, id: c.id });
    else keptWithoutPrune.push({ id: c.id, name: c.name, kind: 'channel' });
  }
  return { steps, keptWithoutPrune, unchanged };
}

function short(value: unknown): string {
  if (value === undefined) return '(none)';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

/** The plan as text, one line per step, then the totals. */
export function describePlan(plan: Plan, prefix = ''): string[] {
  const lines: string[] = [];
  for (const s of plan.steps) {
    const what = `${s.kind} "${s.name}"`;
    if (s.action === 'create' && s.kind === 'credential')
      lines.push(`  + ${what} (key from $${s.apiKeyEnv}${s.baseUrl ? `, ${s.baseUrl}` : ''})`);
    else if (s.action === 'create' && s.kind === 'flow')
      lines.push(
        `  + ${what} (${s.config.kind}, credential "${s.credential}"${s.config.schedule ? `, "${s.config.schedule}"` : ', manual'}${s.active ? '' : ', paused'})`,
      );
    else if (s.action === 'create' && s.kind === 'channel')
      lines.push(
        `  + ${what} (${s.settings.type}${s.secretEnv ? `, ${s.settings.type === 'webhook' ? 'URL' : 'password'} from $${s.secretEnv}` : ''})`,
      );
    else if (s.action === 'delete') lines.push(`  - ${what}`);
    else {
      const parts = s.changes
        .filter((c) => c.path !== 'options.managedBy' && c.path !== 'managedBy')
        .map((c) => `${c.path} ${short(c.from)} → ${short(c.to)}`);
      if (s.kind === 'channel' && s.adopted) parts.unshift('now managed by the file');
      if (s.kind === 'flow') {
        if (s.adopted) parts.unshift('now managed by the file');
        if (s.active !== undefined) parts.push(s.active ? 'activate' : 'pause');
        if (s.webhooks !== undefined) parts.push(s.webhooks ? 'webhooks on' : 'webhooks off');
      }
      lines.push(`  ~ ${what}: ${parts.join('; ')}`);
    }
  }
  for (const k of plan.keptWithoutPrune)
    lines.push(`  · ${k.kind ?? 'flow'} "${k.name}" is no longer in the file; kept (--prune deletes it)`);
  const count = (a: PlanStep['action']) => plan.steps.filter((s) => s.action === a).length;
  lines.push(
    plan.steps.length === 0
      ? `${prefix}No changes: the server matches the file (${plan.unchanged} unchanged).`
      : `${prefix}${count('create')} to create, ${count('update')} to change, ${count('delete')} to delete, ${plan.unchanged} unchanged.`,
  );
  return lines;
}
