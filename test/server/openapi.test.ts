import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asJson, type Harness, harness, type Json, signedInHeaders } from './helpers.js';

// The document is checked against the running app: the routes hono has registered, the bodies the
// routes really read, the fields they really require, and the answers they really give.

let h: Harness;
let headers: Record<string, string>;
let doc: Json;
let credentialId: string;
let flowId: string;

const ajv = new Ajv2020({ strict: false, allErrors: true });

/** `/api/v1/flows/:id/run` → `/flows/{id}/run`. */
const openApiPath = (honoPath: string) =>
  honoPath.replace(/^\/api\/v1/, '').replace(/:(\w+)/g, '{$1}') || '/';

/** The `/api/v1` routes the app registered, each once, as `METHOD /openapi/path`. */
function registeredRoutes(): Array<{ method: string; path: string; honoPath: string }> {
  const seen = new Map<string, { method: string; path: string; honoPath: string }>();
  for (const r of h.app.routes) {
    // Middleware and the catch-all 404 are registered as ALL.
    if (r.method === 'ALL' || !r.path.startsWith('/api/v1/')) continue;
    const path = openApiPath(r.path);
    seen.set(`${r.method} ${path}`, { method: r.method.toLowerCase(), path, honoPath: r.path });
  }
  return [...seen.values()];
}

/** The request path of a route with its parameters filled with live ids. */
const concrete = (honoPath: string) =>
  honoPath
    .replace(':id', honoPath.includes('/credentials/') ? credentialId : flowId)
    .replace(':stream', 'candidates');

function responseSchema(path: string, method: string, status: number): object {
  const schema =
    doc.paths[path]?.[method]?.responses?.[String(status)]?.content?.['application/json']?.schema;
  if (!schema) throw new Error(`the document has no JSON ${status} answer for ${method} ${path}`);
  return schema;
}

/** Calls the API and checks the answer against the document's schema for its path, method and status. */
async function checked(method: string, url: string, path: string, body?: unknown): Promise<Json> {
  const res = await h.request(url, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = await res.json().then(asJson);
  const validate = ajv.compile(responseSchema(path, method.toLowerCase(), res.status));
  expect(validate(json), `${method} ${url} → ${res.status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
  return json;
}

beforeAll(async () => {
  h = await harness();
  headers = await signedInHeaders(h);
  doc = await (await h.request('/api/v1/openapi.json')).json().then(asJson);
  const cred = await h.request('/api/v1/credentials', {
    method: 'POST',
    headers,
    body: JSON.stringify({ name: 'prod', apiKey: 'full-key-aaaa1111' }),
  });
  credentialId = (await cred.json().then(asJson)).credential.id;
  const flow = await h.request('/api/v1/flows', {
    method: 'POST',
    headers,
    body: JSON.stringify({
      kind: 'source',
      name: 'Nightly',
      credentialId,
      streams: ['candidates'],
      target: { type: 'sqlite', path: 'x.db' },
    }),
  });
  flowId = (await flow.json().then(asJson)).flow.id;
});
afterAll(async () => {
  await h.close();
});

describe('the OpenAPI document against the app', () => {
  it('lists every route the app registered, and no route the app lacks', () => {
    const routes = registeredRoutes();
    // A few routes written out by hand, so an empty enumeration cannot pass.
    const keys = routes.map((r) => `${r.method} ${r.path}`);
    for (const known of [
      'post /session/setup',
      'get /credentials',
      'patch /credentials/{id}',
      'post /flows/{id}/run',
      'get /runs/{id}/events',
      'post /quarantine/replay',
      'get /flows/{id}/webhooks',
      'delete /flows/{id}/webhooks/install',
      'post /flows/{id}/webhooks/parked/{actionId}/retry',
    ]) {
      expect(keys).toContain(known);
    }
    for (const { method, path } of routes) {
      expect(
        doc.paths[path]?.[method],
        `${method.toUpperCase()} ${path} is not in the document`,
      ).toBeDefined();
    }
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`),
    );
    expect(documented.sort()).toEqual([...new Set(keys)].sort());
  });

  it('documents a JSON request body exactly for the routes that read one', async () => {
    const writes = registeredRoutes().filter((r) => ['post', 'put', 'patch'].includes(r.method));
    let reading = 0;
    for (const route of writes) {
      if (route.path === '/uploads') {
        expect(Object.keys(doc.paths[route.path].post.requestBody.content)).toEqual(['multipart/form-data']);
        continue;
      }
      // A body that is not JSON: a route that reads its body answers 400 invalid_json.
      const res = await h.request(concrete(route.honoPath), {
        method: route.method.toUpperCase(),
        headers,
        body: '{not json',
      });
      const readsBody = res.status === 400 && (await res.json().then(asJson)).error.code === 'invalid_json';
      if (readsBody) reading++;
      const documented = doc.paths[route.path][route.method].requestBody?.content?.['application/json'];
      expect(documented !== undefined, `${route.method.toUpperCase()} ${route.path} → ${res.status}`).toBe(
        readsBody,
      );
    }
    // setup, login, password, tokens, credentials ×4, flows ×3, quarantine check, replay, webhooks on/off,
    // webhooks install, alert channels add and edit
    expect(reading).toBe(17);
  });

  it('names as required the fields whose absence the route refuses', async () => {
    const checkedRoutes: string[] = [];
    for (const route of registeredRoutes()) {
      const schema = doc.paths[route.path][route.method].requestBody?.content?.['application/json']?.schema;
      // Flows are a union of two shapes: their fields are covered by the flow tests.
      if (schema?.type !== 'object') continue;
      const res = await h.request(concrete(route.honoPath), {
        method: route.method.toUpperCase(),
        headers,
        body: '{}',
      });
      const required = new Set<string>(schema.required ?? []);
      if (required.size === 0) {
        expect(res.status, `${route.method} ${route.path}`).not.toBe(422);
        continue;
      }
      expect(res.status, `${route.method} ${route.path}`).toBe(422);
      const details: Array<{ path: string; message: string }> = (await res.json().then(asJson)).error.details;
      const missing = new Set(details.filter((d) => d.message === 'Required').map((d) => d.path));
      expect(missing, `${route.method} ${route.path}`).toEqual(required);
      checkedRoutes.push(`${route.method} ${route.path}`);
    }
    expect(checkedRoutes).toEqual(
      expect.arrayContaining([
        'post /session/setup',
        'post /tokens',
        'post /credentials',
        'post /credentials/{id}/rotate',
        'post /quarantine/replay',
        'put /flows/{id}/webhooks',
        'post /flows/{id}/webhooks/install',
      ]),
    );
  });

  it('describes the answers of real requests', async () => {
    await checked('GET', '/api/v1/session', '/session');
    await checked('GET', '/api/v1/health', '/health');
    const token = await checked('POST', '/api/v1/tokens', '/tokens', { name: 'ci' });
    expect(token.plaintext).toMatch(/^ashp_/);
    await checked('GET', '/api/v1/tokens', '/tokens');
    const list = await checked('GET', '/api/v1/credentials', '/credentials');
    expect(list.credentials[0].usedBy).toEqual([{ id: flowId, name: 'Nightly', kind: 'source' }]);
    await checked('PATCH', `/api/v1/credentials/${credentialId}`, '/credentials/{id}', { description: 'd' });
    await checked('GET', '/api/v1/streams', '/streams');
    await checked('GET', '/api/v1/operations', '/operations');
    // A flow of its own: the body probes above started runs of the first one.
    const created = await checked('POST', '/api/v1/flows', '/flows', {
      kind: 'destination',
      name: 'Tags',
      credentialId,
      operation: 'candidate.addTag',
      input: { type: 'csv', content: 'candidateId,tagId\nc1,t1\n' },
      mapping: { candidateId: 'candidateId', tagId: 'tagId' },
    });
    const id = created.flow.id;
    await checked('GET', '/api/v1/flows', '/flows');
    await checked('GET', `/api/v1/flows/${id}`, '/flows/{id}');
    const run = await checked('POST', `/api/v1/flows/${id}/run`, '/flows/{id}/run');
    await checked('GET', '/api/v1/runs', '/runs');
    await checked('GET', `/api/v1/runs/${run.run.id}`, '/runs/{id}');
    // A second run while the first goes: the documented 409 error body.
    const busy = await checked('POST', `/api/v1/flows/${id}/run`, '/flows/{id}/run');
    expect(busy.error.code).toBe('run_in_progress');
    h.engine.finish();
    const missing = await checked('GET', '/api/v1/flows/flow_nope', '/flows/{id}');
    expect(missing.error.code).toBe('not_found');
  });

  it('would catch an answer that differs from the document', () => {
    const validate = ajv.compile(responseSchema('/flows', 'get', 200));
    expect(validate({ flows: [{ id: 'f' }], timezone: 'UTC' })).toBe(false);
    expect(validate({ flows: [] })).toBe(false);
    expect(validate({ flows: [], timezone: 'UTC' })).toBe(true);
  });
});
