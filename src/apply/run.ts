/**
 * Carrying out a plan, and writing the server's setup back as a flows file (`ashpipe export`).
 */
import { stringify } from 'yaml';
import type { AlertChannel, Credential, Flow, FlowConfig } from '../server/api-schema.js';
import { ConfigError } from '../util/errors.js';
import type { AshpipeApi } from './api.js';
import { FLOWS_FILE_VERSION } from './file.js';
import type { Plan, PlanStep } from './plan.js';

/** What a step did, for the summary line. */
export interface AppliedStep {
  step: PlanStep;
  /** The id of what was created, updated or deleted. */
  id: string;
}

/**
 * Checks, before anything changes, that every key the plan needs is in the environment: a plan that
 * fails half-way because of a missing variable would leave the server half-applied.
 */
export function checkKeys(plan: Plan, env: NodeJS.ProcessEnv): void {
  const missing = plan.steps.flatMap((s) => {
    if (s.action !== 'create') return [];
    if (s.kind === 'credential' && !env[s.apiKeyEnv]?.trim())
      return [`${s.apiKeyEnv} (credential "${s.name}")`];
    if (s.kind === 'channel' && s.secretEnv !== undefined && !env[s.secretEnv]?.trim())
      return [`${s.secretEnv} (channel "${s.name}")`];
    return [];
  });
  if (missing.length > 0)
    throw new ConfigError(
      `the file creates credentials or channels whose secret is not in the environment: ${missing.join(', ')}`,
    );
}

/** The body that creates a channel: its settings and the secret read from the environment. */
function channelBody(settings: Record<string, unknown>, secret: string | undefined): Record<string, unknown> {
  if (secret === undefined) return settings;
  if (settings.type === 'webhook') return { ...settings, url: secret };
  return { ...settings, smtp: { ...(settings.smtp as Record<string, unknown>), password: secret } };
}

/**
 * Runs the steps in an order that always works: credentials first (flows name them), then flows, deletes
 * last. `onStep` is told after each step, so a failure part-way says what was already done.
 */
export async function applyPlan(
  api: AshpipeApi,
  plan: Plan,
  env: NodeJS.ProcessEnv,
  onStep: (done: AppliedStep) => void,
): Promise<AppliedStep[]> {
  checkKeys(plan, env);
  const done: AppliedStep[] = [];
  const record = (step: PlanStep, id: string) => {
    const d = { step, id };
    done.push(d);
    onStep(d);
  };
  const credentialIds = new Map<string, string>();
  for (const step of plan.steps) {
    if (step.kind !== 'credential') continue;
    if (step.action === 'create') {
      const created = await api.createCredential({
        name: step.name,
        apiKey: env[step.apiKeyEnv]?.trim() ?? '',
        ...(step.description === undefined ? {} : { description: step.description }),
        ...(step.baseUrl === undefined ? {} : { baseUrl: step.baseUrl }),
      });
      credentialIds.set(step.name, created.id);
      record(step, created.id);
    } else {
      await api.editCredential(step.id, { description: step.description });
      record(step, step.id);
    }
  }
  for (const step of plan.steps) {
    if (step.kind !== 'channel' || step.action === 'delete') continue;
    if (step.action === 'create') {
      const secret = step.secretEnv === undefined ? undefined : env[step.secretEnv]?.trim();
      record(step, (await api.createChannel(channelBody(step.settings, secret))).id);
    } else {
      await api.updateChannel(step.id, step.settings);
      record(step, step.id);
    }
  }
  const withCredential = (config: FlowConfig, credential: string): FlowConfig => {
    const id = credentialIds.get(credential);
    return id === undefined ? config : { ...config, credentialId: id };
  };
  for (const step of plan.steps) {
    if (step.kind !== 'flow' || step.action === 'delete') continue;
    if (step.action === 'create') {
      const flow = await api.createFlow(withCredential(step.config, step.credential), step.active);
      if (step.webhooks === true) await api.setWebhooks(flow.id, true);
      record(step, flow.id);
      continue;
    }
    if (step.changes.length > 0) await api.updateFlow(step.id, withCredential(step.config, step.credential));
    if (step.webhooks !== undefined) await api.setWebhooks(step.id, step.webhooks);
    if (step.active !== undefined) await api.setFlowActive(step.id, step.active);
    record(step, step.id);
  }
  // Flows before channels: a flow deleted here may have picked a channel deleted here.
  for (const step of plan.steps) {
    if (step.action !== 'delete' || step.kind !== 'flow') continue;
    await api.deleteFlow(step.id);
    record(step, step.id);
  }
  for (const step of plan.steps) {
    if (step.action !== 'delete' || step.kind !== 'channel') continue;
    await api.deleteChannel(step.id);
    record(step, step.id);
  }
  return done;
}

function envSlug(name: string, fallback: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();
  return slug || fallback;
}

/** An environment variable name for a credential's key: `ASHBY_KEY_` and its name in capitals. */
export function keyEnvName(name: string): string {
  return `ASHBY_KEY_${envSlug(name, 'CREDENTIAL')}`;
}

/** An environment variable name for a channel's secret: `ALERT_WEBHOOK_URL_…` or `ALERT_SMTP_PASSWORD_…`. */
export function channelEnvName(channel: { type: 'webhook' | 'email'; name: string }): string {
  return `${channel.type === 'webhook' ? 'ALERT_WEBHOOK_URL_' : 'ALERT_SMTP_PASSWORD_'}${envSlug(channel.name, 'CHANNEL')}`;
}

/** A stored channel as a file entry: its secret named by an environment variable, never given. */
function exportChannel(c: AlertChannel): Record<string, unknown> {
  const events = c.events ? { events: c.events } : {};
  if (c.type === 'webhook')
    return {
      name: c.name,
      type: 'webhook',
      urlEnv: channelEnvName(c),
      format: c.format ?? 'json',
      ...events,
    };
  const smtp = c.smtp ?? { host: '', port: 587, secure: false, passwordSet: false };
  const passwordEnv = smtp.passwordEnv ?? (smtp.passwordSet ? channelEnvName(c) : undefined);
  return {
    name: c.name,
    type: 'email',
    to: c.to ?? [],
    from: c.from ?? '',
    smtp: {
      host: smtp.host,
      port: smtp.port,
      ...(smtp.secure ? { secure: true } : {}),
      ...(smtp.user === undefined ? {} : { user: smtp.user }),
      ...(passwordEnv === undefined ? {} : { passwordEnv }),
    },
    ...events,
  };
}

/**
 * The server's credentials and flows as a flows file: applying it to the same server changes nothing but
 * marking the flows as managed by the file.
 */
export function exportFlowsFile(
  credentials: readonly Credential[],
  flows: readonly Flow[],
  defaultBaseUrl: string,
  channels: readonly AlertChannel[] = [],
): string {
  const names = new Map(credentials.map((c) => [c.id, c.name]));
  const file = {
    version: FLOWS_FILE_VERSION,
    credentials: credentials.map((c) => ({
      name: c.name,
      ...(c.description ? { description: c.description } : {}),
      apiKeyEnv: keyEnvName(c.name),
      ...(c.baseUrl && c.baseUrl !== defaultBaseUrl ? { baseUrl: c.baseUrl } : {}),
    })),
    // Channels of the server's --alert-channels file stay in that file.
    ...(channels.some((c) => c.source === 'console')
      ? { channels: channels.filter((c) => c.source === 'console').map(exportChannel) }
      : {}),
    flows: flows.map((f) => {
      const { credentialId, options, ...rest } = f.config as FlowConfig & {
        options: Record<string, unknown>;
      };
      const { managedBy: _managedBy, webhooks, ...kept } = options;
      const credential = names.get(credentialId);
      if (credential === undefined)
        throw new ConfigError(
          `flow "${f.name}" names credential ${credentialId}, which the server does not list`,
        );
      return {
        ...rest,
        credential,
        ...(f.status === 'active' ? {} : { active: false }),
        ...(f.kind === 'source' && webhooks === true ? { webhooks: true } : {}),
        ...(Object.keys(kept).length > 0 ? { options: kept } : {}),
      };
    }),
  };
  const header = [
    '# ashpipe flows file: `ashpipe apply -f <file>` makes the server match it (--dry-run shows the plan).',
    '# Keys are never written here: apiKeyEnv names the environment variable read to create a credential,',
    '# urlEnv and passwordEnv those read to create a notification channel.',
    '# JSON Schema: docs/flows-file.schema.json',
  ].join('\n');
  return `${header}\n${stringify(file, { lineWidth: 0 })}`;
}
