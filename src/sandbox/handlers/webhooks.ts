/** Webhook settings. The deliveries themselves are made by `../webhooks.ts` from the change log. */
import type { Handlers } from '../context.js';
import { invalidInput, notFound } from '../errors.js';
import { requiredId } from './shared.js';
import { reqEnum, reqString } from './validate.js';

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

export const webhookHandlers: Handlers = {
  'webhook.create': (ctx) => {
    const webhookType = reqEnum(ctx.body, 'webhookType', WEBHOOK_TYPES);
    const requestUrl = reqString(ctx.body, 'requestUrl');
    try {
      const u = new URL(requestUrl);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    } catch {
      throw invalidInput('"requestUrl" must be an http(s) URL');
    }
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
  'webhook.info': (ctx) => {
    const id = requiredId(ctx, 'webhookId');
    const hook = ctx.world.get(id, 'webhook');
    if (!hook) throw notFound('webhook');
    return { results: hook };
  },
};
