/**
 * Every endpoint the sandbox serves, by family: one table, like the streams and the push operations.
 * Adding endpoints: a handler in its family's file, or a new family file and one line here.
 */
import type { Handler, Handlers } from '../context.js';
import { applicationHandlers } from './applications.js';
import { candidateHandlers } from './candidates.js';
import { interviewHandlers } from './interviews.js';
import { jobHandlers } from './jobs.js';
import { metadataHandlers } from './metadata.js';
import { offerHandlers } from './offers.js';
import { organizationHandlers } from './organization.js';
import { surveyHandlers } from './surveys.js';
import { webhookHandlers } from './webhooks.js';

const FAMILIES: readonly Handlers[] = [
  organizationHandlers,
  jobHandlers,
  candidateHandlers,
  applicationHandlers,
  offerHandlers,
  interviewHandlers,
  surveyHandlers,
  metadataHandlers,
  webhookHandlers,
];

function merge(families: readonly Handlers[]): ReadonlyMap<string, Handler> {
  const out = new Map<string, Handler>();
  for (const family of families) {
    for (const [endpoint, handler] of Object.entries(family)) {
      // Two families answering one endpoint would make the answer depend on the order of this list.
      if (out.has(endpoint)) throw new Error(`the sandbox serves ${endpoint} twice`);
      out.set(endpoint, handler);
    }
  }
  return out;
}

/** The handler of each endpoint the sandbox serves. */
export const HANDLERS: ReadonlyMap<string, Handler> = merge(FAMILIES);

/** Endpoint names the sandbox answers. */
export const IMPLEMENTED_ENDPOINTS: readonly string[] = [...HANDLERS.keys()].sort();
