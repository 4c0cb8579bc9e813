import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Codec, requestId } from './codec.js';
import type { SandboxKey, Success } from './context.js';
import { ApiError } from './errors.js';
import { type Faults, parseFaults } from './faults.js';
import { resolveEndpoint, runEndpoint, type ServedEndpoint } from './handlers/engine.js';
import type { World } from './world.js';

/** Request and response counters, for tests and benchmarks. */
export interface SandboxStats {
  /** Requests per endpoint name as sent (including failed ones). */
  requests: Record<string, number>;
  /** Responses per HTTP status ("200", "429", …); socket resets count under "reset". */
  responses: Record<string, number>;
  /** Answers with HTTP 429. */
  rateLimited: number;
  /** Successful writes per endpoint. */
  writes: Record<string, number>;
  /** Successful writes per endpoint and natural key (e.g. `candidate.create` → email → count). */
  writesByKey: Record<string, Record<string, number>>;
  /** Envelope error codes answered (`invalid_input`, `next_cursor_expired`, …). */
  errors: Record<string, number>;
}

export function emptyStats(): SandboxStats {
  return { requests: {}, responses: {}, rateLimited: 0, writes: {}, writesByKey: {}, errors: {} };
}

/** The control surface the HTTP `/_sandbox/` endpoints drive (same as the in-process API). */
interface ControlApi {
  stats(): SandboxStats;
  resetStats(): void;
  mutate(op: string, body: Record<string, unknown>): unknown;
}

interface ServerParts {
  world: World;
  faults: Faults;
  keys: Map<string, SandboxKey>;
  codec: Codec;
  stats: { current: SandboxStats };
  control: ControlApi;
  /** Endpoints answered as unknown, as an account or key that does not have them. */
  unserved: ReadonlySet<string>;
}

function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 20 * 1024 * 1024) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The API key from `Authorization: Basic base64(key:)`; the password part is ignored, as Ashby does. */
function keyFromAuthorization(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Basic\s+(\S+)\s*$/i.exec(header);
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const user = decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : decoded;
  return user === '' ? undefined : user;
}

export function createSandboxServer(parts: ServerParts): Server {
  const { world, faults, keys, codec, stats, control, unserved } = parts;

  const send = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
    truncate = false,
  ): void => {
    bump(stats.current.responses, String(status));
    if (status === 429) stats.current.rateLimited++;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const isJson = typeof body !== 'string';
    res.statusCode = status;
    res.setHeader('content-type', isJson ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8');
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    if (truncate) {
      // Chunked, so the client sees a well-formed HTTP answer whose JSON stops mid-way.
      res.end(text.slice(0, Math.max(1, Math.floor(text.length / 2))));
      return;
    }
    res.setHeader('content-length', Buffer.byteLength(text));
    res.end(text);
  };

  const sendError = (res: ServerResponse, err: ApiError): void => {
    bump(stats.current.errors, err.code);
    const id = requestId();
    send(
      res,
      err.status,
      {
        success: false,
        errors: [err.code],
        errorInfo: { code: err.code, message: err.message, requestId: id },
      },
      err.headers,
    );
  };

  const handleControl = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const raw = req.method === 'POST' ? await readBody(req) : '';
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = raw ? JSON.parse(raw) : {};
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
        body = parsed as Record<string, unknown>;
    } catch {
      res.statusCode = 400;
      res.end(JSON.stringify({ error: 'body must be JSON' }));
      return;
    }
    const reply = (value: unknown, status = 200) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(value));
    };
    try {
      if (path === '/_sandbox/faults' && req.method === 'GET') return reply(faults.config);
      if (path === '/_sandbox/faults' && req.method === 'POST') {
        faults.set(parseFaults(body));
        return reply(faults.config);
      }
      if (path === '/_sandbox/faults/reset' && req.method === 'POST') {
        faults.reset();
        return reply(faults.config);
      }
      if (path === '/_sandbox/stats' && req.method === 'GET') return reply(control.stats());
      if (path === '/_sandbox/reset-stats' && req.method === 'POST') {
        control.resetStats();
        return reply({ ok: true });
      }
      if (path === '/_sandbox/health')
        return reply({ ok: true, seq: world.seq, scale: world.scale, seed: world.seed });
      const m = /^\/_sandbox\/mutate\/(\w+)$/.exec(path);
      if (m?.[1] && req.method === 'POST') return reply(control.mutate(m[1], body) ?? { ok: true });
      return reply({ error: 'unknown control endpoint' }, 404);
    } catch (error) {
      return reply({ error: error instanceof Error ? error.message : String(error) }, 400);
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path.startsWith('/_sandbox/')) return handleControl(req, res, path);
    const name = decodeURIComponent(path.slice(1));
    bump(stats.current.requests, name);
    const raw = await readBody(req);
    const cfg = faults.config;
    const delay = cfg.latencyMs + (cfg.slowEndpoints[name] ?? 0);
    if (delay > 0) await sleep(delay);
    if (faults.roll(cfg.resetRate)) {
      bump(stats.current.responses, 'reset');
      req.socket.destroy();
      return;
    }
    if (req.method !== 'POST') {
      return sendError(res, new ApiError('method_not_allowed', 'Ashby endpoints take POST requests', 405));
    }

    const keyValue = keyFromAuthorization(req.headers.authorization);
    if (keyValue === undefined) {
      return sendError(
        res,
        new ApiError('unauthenticated', 'Missing API key: send it as the Basic auth username', 401),
      );
    }
    const key = keys.get(keyValue);
    if (!key || key.deactivated) {
      return sendError(
        res,
        new ApiError(
          'invalid_api_key',
          key ? 'This API key has been deactivated' : 'The API key is not valid',
          403,
        ),
      );
    }

    const wait = faults.take(keyValue, Date.now());
    if (wait !== undefined) {
      const headers: Record<string, string> = { 'retry-after': String(Math.max(1, Math.ceil(wait / 1000))) };
      if (cfg.rateLimit?.scope) headers['x-ratelimit-scope'] = cfg.rateLimit.scope;
      return sendError(
        res,
        new ApiError(
          'rate_limit_exceeded',
          'Rate limit exceeded. Retry after the Retry-After delay.',
          429,
          headers,
        ),
      );
    }
    if (faults.roll(cfg.errorRate)) {
      const html = faults.roll(0.5);
      const status = html ? 502 : 500;
      if (html) return send(res, status, '<html><body><h1>502 Bad Gateway</h1></body></html>');
      return sendError(res, new ApiError('internal_error', 'Internal server error', status));
    }
    const forced = faults.failureFor(name);
    if (forced) {
      const status = forced.status ?? 500;
      if (status === 429) {
        return sendError(
          res,
          new ApiError('rate_limit_exceeded', 'Rate limit exceeded', 429, { 'retry-after': '1' }),
        );
      }
      const echo = forced.echoKey
        ? ` for key ${keyValue} (authorization: ${req.headers.authorization ?? ''})`
        : '';
      return sendError(
        res,
        new ApiError(forced.code ?? 'internal_error', `Forced failure of ${name}${echo}`, status),
      );
    }

    let endpoint: ServedEndpoint;
    try {
      endpoint = resolveEndpoint(name, key, unserved);
    } catch (error) {
      if (error instanceof ApiError) return sendError(res, error);
      throw error;
    }

    let body: Record<string, unknown>;
    try {
      const parsed: unknown = raw.trim() === '' ? {} : JSON.parse(raw);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      return sendError(res, new ApiError('invalid_input', 'Request payload is malformed'));
    }

    const endpointName = endpoint.spec.name;
    let result: Success;
    try {
      result = runEndpoint(
        endpoint,
        { endpoint: endpointName, body, key, world, codec, faults },
        (naturalKey) => {
          bump(stats.current.writes, endpointName);
          if (naturalKey !== undefined) {
            const per = stats.current.writesByKey[endpointName] ?? {};
            bump(per, naturalKey);
            stats.current.writesByKey[endpointName] = per;
          }
        },
      );
    } catch (error) {
      if (error instanceof ApiError) return sendError(res, error);
      throw error;
    }
    const envelope: Record<string, unknown> = { success: true, results: result.results };
    if (result.moreDataAvailable !== undefined) envelope.moreDataAvailable = result.moreDataAvailable;
    if (result.nextCursor !== undefined) envelope.nextCursor = result.nextCursor;
    if (result.syncToken !== undefined) envelope.syncToken = result.syncToken;
    send(res, 200, envelope, {}, faults.roll(cfg.truncateRate));
  };

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendError(
        res,
        new ApiError('internal_error', error instanceof Error ? error.message : 'internal error', 500),
      );
    });
  });
}

export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
