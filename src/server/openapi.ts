import { VERSION } from '../version.js';

type Op = { summary: string; body?: string; ok?: string; errors?: number[] };

const err = (codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { $ref: `#/components/responses/Error` }]));

function op(tag: string, o: Op, secured = true): Record<string, unknown> {
  return {
    tags: [tag],
    summary: o.summary,
    ...(secured ? {} : { security: [] }),
    ...(o.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: `#/components/schemas/${o.body}` } } },
          },
        }
      : {}),
    responses: {
      [o.ok ?? '200']: { description: 'OK' },
      ...err([...(secured ? [401, 403] : []), ...(o.errors ?? [])]),
    },
  };
}

/** The OpenAPI 3.1 document of the server's own REST API, served at `/api/v1/openapi.json`. */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'ashpipe server API',
      version: VERSION,
      description:
        'REST API of `ashpipe serve`. Authenticate with the console session cookie (mutating requests then need the `X-CSRF-Token` header from `GET /session`) or with an API token: `Authorization: Bearer ashp_…`. Errors are `{error: {code, message}}`. API keys are write-only and never returned. Request bodies are limited per route (413 `payload_too_large`).',
    },
    servers: [{ url: '/api/v1' }],
    security: [{ session: [] }, { bearer: [] }],
    paths: {
      '/session': {
        get: op('session', { summary: 'Whether setup is required; with a session, its CSRF token' }, false),
        post: op(
          'session',
          { summary: 'Log in (rate limited)', body: 'Login', errors: [401, 403, 429] },
          false,
        ),
        delete: op('session', { summary: 'Log out', ok: '204' }),
      },
      '/session/setup': {
        post: op(
          'session',
          { summary: 'First run: set the admin password', body: 'Login', ok: '201', errors: [409, 422] },
          false,
        ),
      },
      '/session/password': {
        put: op('session', {
          summary:
            'Change the admin password (logs other browsers out; `revokeTokens` revokes every API token)',
          body: 'PasswordChange',
          errors: [422, 429],
        }),
      },
      '/uploads': {
        post: op('uploads', {
          summary:
            'Upload a .csv, .jsonl or .json file (multipart form data, part `file`) into the data directory; answers the `input.path` to use',
          ok: '201',
          errors: [400, 413, 422],
        }),
      },
      '/tokens': {
        get: op('tokens', { summary: 'List API tokens (never their values)' }),
        post: op('tokens', {
          summary: 'Create an API token; `plaintext` is shown once',
          body: 'NewToken',
          ok: '201',
          errors: [422],
        }),
      },
      '/tokens/{id}': { delete: op('tokens', { summary: 'Revoke an API token', ok: '204', errors: [404] }) },
      '/credentials': {
        get: op('credentials', { summary: 'List credentials with masked keys and permission maps' }),
        post: op('credentials', {
          summary: 'Verify and store a credential',
          body: 'NewCredential',
          ok: '201',
          errors: [409, 422],
        }),
      },
      '/credentials/{id}': {
        get: op('credentials', { summary: 'One credential', errors: [404] }),
        patch: op('credentials', {
          summary: 'Rename or re-describe',
          body: 'EditCredential',
          errors: [404, 409, 422],
        }),
        delete: op('credentials', {
          summary: 'Delete (409 while flows use it, unless force=true)',
          ok: '204',
          errors: [404, 409],
        }),
      },
      '/credentials/{id}/rotate': {
        post: op('credentials', {
          summary: 'Verify and swap in a new key',
          body: 'Rotate',
          errors: [404, 422],
        }),
      },
      '/credentials/{id}/probe': {
        post: op('credentials', { summary: 'Re-verify the stored key', errors: [404] }),
      },
      '/credentials/{id}/probe/sample': {
        post: op('credentials', { summary: 'A few records of a stream', body: 'Sample', errors: [404, 422] }),
      },
      '/streams': { get: op('catalogue', { summary: 'Streams a source can sync' }) },
      '/operations': { get: op('catalogue', { summary: 'Operations a destination can perform' }) },
      '/flows': {
        get: op('flows', { summary: 'List flows with last run and next slot' }),
        post: op('flows', {
          summary: 'Create a flow (paused; `?activate=true` to activate)',
          body: 'Flow',
          ok: '201',
          errors: [422],
        }),
      },
      '/flows/test': {
        post: op('flows', {
          summary:
            'Test an unsaved flow (`?limit=`): a source samples its first stream; a destination is dry-run over its first records (bodies it would send, reasons it would quarantine)',
          body: 'Flow',
          errors: [404, 422],
        }),
      },
      '/flows/{id}': {
        get: op('flows', { summary: 'One flow', errors: [404] }),
        put: op('flows', { summary: 'Replace a flow', body: 'Flow', errors: [404, 422] }),
        delete: op('flows', { summary: 'Delete a flow', ok: '204', errors: [404, 409] }),
      },
      '/flows/{id}/activate': { post: op('flows', { summary: 'Activate (schedule it)', errors: [404] }) },
      '/flows/{id}/pause': { post: op('flows', { summary: 'Pause (unschedule it)', errors: [404] }) },
      '/flows/{id}/run': {
        post: op('flows', { summary: 'Run now (409 while a run is going)', ok: '202', errors: [404, 409] }),
      },
      '/flows/{id}/test': {
        post: op('flows', { summary: 'Dry run (409 while a run is going)', ok: '202', errors: [404, 409] }),
      },
      '/flows/{id}/cancel': {
        post: op('flows', { summary: 'Ask the running run to stop', ok: '202', errors: [404, 409] }),
      },
      '/runs': { get: op('runs', { summary: 'Run history (`flowId`, `limit`, `offset`)' }) },
      '/runs/{id}': { get: op('runs', { summary: 'One run with counts and errors', errors: [404] }) },
      '/runs/{id}/events': {
        get: op('runs', { summary: 'Server-sent events: `progress`…, then `finished`', errors: [404] }),
      },
      '/datasets': {
        get: op('datasets', {
          summary: 'The synced tables of a source flow with live and deleted row counts (`flowId`)',
          errors: [404, 422],
        }),
      },
      '/datasets/{stream}/preview': {
        get: op('datasets', {
          summary:
            'A page of a synced table, live rows unless `includeDeleted`=true (`flowId`, `limit`, `offset`)',
          errors: [404, 422],
        }),
      },
      '/quarantine': {
        get: op('quarantine', {
          summary:
            'Quarantined records (`flowId`, `runId`, `operation`, `status`=open|replayed|resolved|dismissed|all, `limit`, `offset`)',
        }),
      },
      '/quarantine/export': {
        get: op('quarantine', {
          summary: 'Quarantined records as JSON lines or CSV (`format`=jsonl|csv, same filters as the list)',
          errors: [422],
        }),
      },
      '/quarantine/{id}': { get: op('quarantine', { summary: 'One quarantined record', errors: [404] }) },
      '/quarantine/{id}/resolve': {
        post: op('quarantine', {
          summary: 'Mark an open entry resolved (its record was fixed some other way); 409 unless open',
          errors: [404, 409],
        }),
      },
      '/quarantine/{id}/dismiss': {
        post: op('quarantine', {
          summary: 'Dismiss an open entry (its record is not to be pushed); 409 unless open',
          errors: [404, 409],
        }),
      },
      '/quarantine/replay': {
        post: op('quarantine', {
          summary:
            'Replay quarantined records through the push engine as a run of their flow (409 while it runs); answers when the replay ends',
          body: 'Replay',
          errors: [404, 409, 422],
        }),
      },
    },
    components: {
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'ashpipe_session' },
        bearer: { type: 'http', scheme: 'bearer' },
      },
      responses: {
        Error: {
          description: 'An error',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['error'],
                properties: {
                  error: {
                    type: 'object',
                    required: ['code', 'message'],
                    properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
                  },
                },
              },
            },
          },
        },
      },
      schemas: {
        Login: {
          type: 'object',
          required: ['password'],
          properties: { password: { type: 'string', minLength: 10 } },
        },
        NewToken: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
        NewCredential: {
          type: 'object',
          required: ['name', 'apiKey'],
          properties: {
            name: { type: 'string' },
            description: { type: 'string' },
            apiKey: { type: 'string', writeOnly: true },
            baseUrl: {
              type: 'string',
              format: 'uri',
              description: 'https, or http to this machine when the server allows it',
            },
            saveUnverified: {
              type: 'boolean',
              description: 'store the key even though no probe reached Ashby',
            },
          },
        },
        PasswordChange: {
          type: 'object',
          required: ['currentPassword', 'newPassword'],
          properties: {
            currentPassword: { type: 'string', writeOnly: true },
            newPassword: { type: 'string', minLength: 10, writeOnly: true },
            revokeTokens: { type: 'boolean' },
          },
        },
        EditCredential: {
          type: 'object',
          properties: { name: { type: 'string' }, description: { type: 'string' } },
        },
        Rotate: {
          type: 'object',
          required: ['apiKey'],
          properties: {
            apiKey: { type: 'string', writeOnly: true },
            saveUnverified: { type: 'boolean' },
          },
        },
        Sample: {
          type: 'object',
          required: ['stream'],
          properties: { stream: { type: 'string' }, limit: { type: 'integer', maximum: 20 } },
        },
        Replay: {
          type: 'object',
          required: ['ids'],
          properties: {
            ids: { type: 'array', items: { type: 'string' } },
            flowId: {
              type: 'string',
              description: 'needed only for records that name no flow (quarantined by the CLI)',
            },
            dryRun: { type: 'boolean' },
          },
        },
        Flow: {
          type: 'object',
          required: ['kind', 'name', 'credentialId'],
          properties: {
            kind: { enum: ['source', 'destination'] },
            name: { type: 'string' },
            credentialId: { type: 'string' },
            schedule: { type: ['string', 'null'], description: 'cron expression' },
            options: { type: 'object' },
            streams: { type: 'array', items: { type: 'string' }, description: 'source' },
            target: {
              type: 'object',
              description: 'source: {type: sqlite|postgres|jsonl, path|url, schema?}',
            },
            operation: { type: 'string', description: 'destination' },
            endpoint: { type: 'string', description: 'destination' },
            input: {
              type: 'object',
              description: 'destination: {type: csv|jsonl|json|sql, path|content|query}',
            },
            mapping: { type: 'object', additionalProperties: { type: 'string' } },
          },
        },
      },
    },
  };
}
