/** The Ashby client: transport, typed errors, retry policy, limiter, paginator. */
export * from './catalogue.js';
export { AshbyClient, type AshbyClientOptions, DEFAULT_BASE_URL, DEFAULT_TIMEOUT_MS } from './client.js';
export * from './errors.js';
export * from './limiter.js';
export { itemsOf, MAX_PAGE_SIZE, pageRequestBody, pageSize } from './paginate.js';
export * from './retry.js';
export type { AshbyPage, AshbyResult, ClientEvent, PageOptions } from './types.js';
