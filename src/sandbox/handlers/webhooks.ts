/** Webhook settings. The deliveries themselves are made by `../webhooks.ts` from the change log. */
import type { Handlers } from '../context.js';
import { invalidInput, notFound } from '../errors.js';
import { requiredId } from './shared.js';
import { optBoolean, optString, reqEnum, reqString } from './validate.js';

const WEBHOOK_TYPES = [
  'applicationSubmit',
  'applicationUpdate',
  'candidateHire',
  'candidateStageChange',
  'candidateDelete',
  'candidateMerge',
  'interviewPlanTransition',
  'interviewScheduleCreate',
  'interviewScheduleUpdate',
  'jobCreate',
  'jobUpdate',
  'jobPostingUpdate',
  'jobPostingPublish',
  'jobPostingUnpublish',
  'offerCreate',
  'offerUpdate',
  'offerDelete',
  'openingCreate',
  'pushToHRIS',
  'surveySubmit',
] as const;

function checkedUrl(requestUrl: string): string {
  try {
    const u = new URL(requestUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw invalidInput('"requestUrl" must be an http(s) URL');
  }
  return requestUrl;
}

export const webhookHandlers: Handlers = {
  'webhook.create': (ctx) => {
    const webhookType = reqEnum(ctx.body, 'webhookType', WEBHOOK_TYPES);
    const requestUrl = checkedUrl(reqString(ctx.body, 'requestUrl'));
    const secretToken = reqString(ctx.body, 'secretToken');
    const rec = ctx.world.create('webhook', (id) => ({
      id,
      enabled: true,
      requestUrl,
      secretToken,
      webhookType,
    }));
    return { results: rec, naturalKey: `${webhookType}:${requestUrl}` };
  },
  'webhook.update': (ctx) => {
    const id = requiredId(ctx, 'webhookId');
    if (!ctx.world.get(id, 'webhook')) throw notFound('webhook');
    const patch: Record<string, unknown> = {};
    const enabled = optBoolean(ctx.body, 'enabled');
    if (enabled !== undefined) patch.enabled = enabled;
    const requestUrl = optString(ctx.body, 'requestUrl');
    if (requestUrl !== undefined) patch.requestUrl = checkedUrl(requestUrl);
    const secretToken = optString(ctx.body, 'secretToken');
    if (secretToken !== undefined) patch.secretToken = secretToken;
    // An edit re-enables a webhook a failed ping disabled; the ping that follows decides again.
    if (enabled === undefined) patch.enabled = true;
    return { results: ctx.world.update(id, patch) };
  },
  'webhook.delete': (ctx) => {
    const id = requiredId(ctx, 'webhookId');
    if (!ctx.world.get(id, 'webhook')) throw notFound('webhook');
    ctx.world.delete(id);
    return { results: { webhookId: id } };
  },
  'webhook.info': (ctx) => {
    const id = requiredId(ctx, 'webhookId');
    const hook = ctx.world.get(id, 'webhook');
    if (!hook) throw notFound('webhook');
    return { results: hook };
  },
};
