import { findEndpoint } from '../../ashby/catalogue.js';
import { ConfigError } from '../../util/errors.js';
import type { Operation } from '../types.js';
import { findOperation, manualOperation } from './index.js';

/**
 * Picks the operation for an endpoint or operation name: a template when one exists, else manual mode
 * for a write endpoint. Shared by `ashpipe push`, quarantine replays and the server's destination flows.
 */
export function resolveOperation(name: string, manual = false): Operation {
  const template = manual ? undefined : findOperation(name);
  if (template) return template;
  const endpoint = findEndpoint(name);
  if (!endpoint)
    throw new ConfigError(`unknown endpoint or operation "${name}" (see \`ashpipe operations\`)`);
  if (endpoint.access !== 'write')
    throw new ConfigError(
      `${endpoint.name} is a read endpoint; push sends writes (see \`ashpipe operations\`)`,
    );
  return manualOperation(endpoint);
}

/** The operation a quarantine entry was pushed with (`endpoint:<name>` marks manual mode). */
export function operationOfEntry(operation: string): Operation {
  const manual = operation.startsWith('endpoint:');
  return resolveOperation(manual ? operation.slice('endpoint:'.length) : operation, manual);
}
