import { defined } from '../util/defined.js';
import type { Logger } from '../util/logger.js';
import type { ClientEvent } from './types.js';

/**
 * Writes a client event to a run log: every response at debug (endpoint, status, duration, requestId —
 * never headers or bodies), retries and 429s at warn. Shared by CLI runs and the server's flow runs.
 */
export function logClientEvent(logger: Logger, event: ClientEvent): void {
  switch (event.type) {
    case 'response':
      logger.debug('ashby response', {
        endpoint: event.endpoint,
        attempt: event.attempt,
        httpStatus: event.httpStatus,
        durationMs: event.durationMs,
        success: event.success,
        ...defined({ code: event.code, requestId: event.requestId }),
      });
      break;
    case 'retry':
      logger.warn('retrying', {
        endpoint: event.endpoint,
        attempt: event.attempt,
        delayMs: event.delayMs,
        reason: event.reason,
        ...defined({ code: event.code }),
      });
      break;
    case 'rateLimited':
      logger.warn('rate limited', {
        endpoint: event.endpoint,
        rateLimitScope: event.rateLimitScope,
        ...defined({ retryAfterMs: event.retryAfterMs }),
      });
      break;
    default:
      break;
  }
}
