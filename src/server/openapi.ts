import {
  extendZodWithOpenApi,
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type ResponseConfig,
  type RouteConfig,
} from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { VERSION } from '../version.js';
import { type ApiRoute, apiRoutes, errorResponse } from './api-schema.js';

// The generator names parameters through zod's `.openapi()`, which this adds to zod's types.
extendZodWithOpenApi(z);

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad request (a body that is not JSON, a malformed upload)',
  401: 'No session or token, or a wrong password',
  403: 'Forbidden (CSRF token, origin or host refused; setup required)',
  404: 'Not found',
  409: 'Conflict with the current state',
  413: 'Body over the route limit',
  422: 'Invalid input (`details` lists each problem with its path)',
  429: 'Too many attempts (`retryAfter` seconds)',
};

/** `{id}` in a path becomes a string path parameter. */
function pathParams(path: string): z.AnyZodObject | undefined {
  const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
  return names.length > 0 ? z.object(Object.fromEntries(names.map((n) => [n, z.string()]))) : undefined;
}

function toRouteConfig(route: ApiRoute): RouteConfig {
  const status = route.status ?? 200;
  const ok: ResponseConfig = { description: 'OK' };
  if (route.response) ok.content = { 'application/json': { schema: route.response } };
  else if (route.produces) {
    ok.content = Object.fromEntries(route.produces.map((type) => [type, { schema: {} }]));
  }
  const responses: RouteConfig['responses'] = { [String(status)]: ok };
  for (const code of [...(route.open ? [] : [401, 403]), ...(route.errors ?? [])].sort()) {
    responses[String(code)] = {
      description: ERROR_DESCRIPTIONS[code] ?? 'Error',
      content: { 'application/json': { schema: errorResponse } },
    };
  }
  const request: NonNullable<RouteConfig['request']> = {};
  const params = pathParams(route.path);
  if (params) request.params = params;
  if (route.query) request.query = z.object(route.query);
  if (route.body) {
    request.body = { required: true, content: { 'application/json': { schema: route.body } } };
  } else if (route.multipart) {
    request.body = {
      required: true,
      content: {
        'multipart/form-data': {
          schema: {
            type: 'object',
            required: ['file'],
            properties: { file: { type: 'string', contentEncoding: 'binary' } },
          },
        },
      },
    };
  }
  return {
    method: route.method,
    path: route.path,
    tags: [route.tag],
    summary: route.summary,
    ...(route.open ? { security: [] } : {}),
    ...(Object.keys(request).length > 0 ? { request } : {}),
    responses,
  };
}

let cached: Record<string, unknown> | undefined;

/**
 * The OpenAPI 3.1 document of the server's own REST API, served at `/api/v1/openapi.json`, generated from
 * the same zod schemas the routes validate with ({@link apiRoutes}).
 */
export function openApiDocument(): Record<string, unknown> {
  if (cached) return cached;
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'session', {
    type: 'apiKey',
    in: 'cookie',
    name: 'ashpipe_session',
  });
  registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  for (const route of apiRoutes) registry.registerPath(toRouteConfig(route));
  const document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'ashpipe server API',
      version: VERSION,
      description:
        'REST API of `ashpipe serve`. Authenticate with the console session cookie (mutating requests then need the `X-CSRF-Token` header from `GET /session`) or with an API token: `Authorization: Bearer ashp_…`. Errors are `{error: {code, message}}`. API keys are write-only and never returned. Request bodies are limited per route (413 `payload_too_large`).',
    },
    servers: [{ url: '/api/v1' }],
    security: [{ session: [] }, { bearer: [] }],
  });
  cached = JSON.parse(JSON.stringify(document)) as Record<string, unknown>;
  return cached;
}
