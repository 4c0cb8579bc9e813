/**
 * Runs one request's handler: the endpoint must be one the sandbox serves and the key must hold its
 * scope; a successful write is counted. The HTTP server (`../server.ts`) and the in-process reader
 * (`Sandbox.records`) both answer through here.
 */
import { describeScope, type EndpointSpec, findEndpoint } from '../../ashby/catalogue.js';
import type { Handler, RequestContext, SandboxKey, Success } from '../context.js';
import { ApiError } from '../errors.js';
import { HANDLERS } from './index.js';

/** A served endpoint, under its canonical name. */
export interface ServedEndpoint {
  spec: EndpointSpec;
  handler: Handler;
}

/** The endpoint a request names, if served and allowed to the key; otherwise the error Ashby answers. */
export function resolveEndpoint(
  name: string,
  key: SandboxKey,
  unserved: ReadonlySet<string> = new Set(),
): ServedEndpoint {
  const spec = findEndpoint(name);
  const handler = spec && !unserved.has(spec.name) ? HANDLERS.get(spec.name) : undefined;
  if (!spec || !handler) {
    throw new ApiError('unknown_endpoint', `The sandbox does not implement "${name}"`, 404);
  }
  if (spec.scope && !key.scopes.includes(spec.scope)) {
    const d = describeScope(spec.scope);
    throw new ApiError(
      'missing_endpoint_permission',
      `This API key is missing the "${d.label}" permission (${spec.scope}) required by ${spec.name}`,
      403,
    );
  }
  return { spec, handler };
}

/**
 * Answers a request of a resolved endpoint. `onWrite` hears each successful write with the natural key
 * it counts under (for the stats).
 */
export function runEndpoint(
  endpoint: ServedEndpoint,
  ctx: RequestContext,
  onWrite: (naturalKey: string | undefined) => void = () => {},
): Success {
  const { naturalKey, ...answer } = endpoint.handler(ctx);
  if (endpoint.spec.access === 'write') onWrite(naturalKey);
  return answer;
}
