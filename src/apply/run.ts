/**
 * Carrying out a plan, and writing the server's setup back as a flows file (`ashpipe export`).
 */
import { stringify } from 'yaml';
import type { Credential, Flow, FlowConfig } from '../server/api-schema.js';
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
  const missing = plan.steps.flatMap((s) =>
    s.action === 'create' && s.kind === 'credential' && !env[s.apiKeyEnv]?.trim()
      ? [`${s.apiKeyEnv} (credential "${s.name}")`]
      : [],
  );
  if (missing.length > 0)
    throw new ConfigError(
      `the file creates credentials whose key is not in the environment: ${missing.join(', ')}`,
    );
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
  for (const step of plan.steps) {
    if (step.action !== 'delete') continue;
    await api.deleteFlow(step.id);
    record(step, step.id);
  }
  return done;
}

/** An environment variable name for a credential's key: `ASHBY_KEY_` and its name in capitals. */
export function keyEnvName(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();
  return `ASHBY_KEY_${slug || 'CREDENTIAL'}`;
}

/**
 * The server's credentials and flows as a flows file: applying it to the same server changes nothing but
 * marking the flows as managed by the file.
 */
export function exportFlowsFile(
  credentials: readonly Credential[],
  flows: readonly Flow[],
  defaultBaseUrl: string,
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
    '# Keys are never written here: apiKeyEnv names the environment variable read to create a credential.',
    '# JSON Schema: docs/flows-file.schema.json',
  ].join('\n');
  return `${header}\n${stringify(file, { lineWidth: 0 })}`;
}
