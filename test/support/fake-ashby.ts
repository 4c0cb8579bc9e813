/**
 * A scripted Ashby-like HTTP server on loopback for client tests: each endpoint answers from a queue of
 * scripted responses (then from a default handler), and every request's headers and body are recorded.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One scripted answer. */
export interface ScriptedResponse {
  /** @default 200 */
  status?: number;
  headers?: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent verbatim (HTML, truncated JSON…); wins over `json`. */
  raw?: string;
  /** Wait before answering. */
  delayMs?: number;
  /**
   * `reset`: destroy the connection after reading the request, before any answer.
   * `truncate`: send the head and half the body, announcing the full length, then destroy the connection.
   * `hang`: never answer.
   */
  action?: 'reset' | 'truncate' | 'hang';
}

export interface RecordedRequest {
  endpoint: string;
  method: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  body: unknown;
}

export type Handler = (request: RecordedRequest) => ScriptedResponse | Promise<ScriptedResponse>;

export interface FakeAshby {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Requests being handled right now and the most seen at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Queues answers for an endpoint, used in order before the default handler. */
  script(endpoint: string, ...responses: Array<ScriptedResponse | Handler>): void;
  /** Answers requests no script is left for. */
  setDefault(handler: Handler): void;
  requestsTo(endpoint: string): RecordedRequest[];
  close(): Promise<void>;
}

export const ok = (results: unknown, extra: Record<string, unknown> = {}): ScriptedResponse => ({
  json: { success: true, results, ...extra },
});

export const fail = (
  code: string,
  message = code,
  status = 200,
  extra: ScriptedResponse = {},
): ScriptedResponse => ({
  status,
  json: {
    success: false,
    errors: [code],
    errorInfo: { code, message, requestId: `req-${code}` },
  },
  ...extra,
});

export async function startFakeAshby(options: { port?: number } = {}): Promise<FakeAshby> {
  const scripts = new Map<string, Array<ScriptedResponse | Handler>>();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let fallback: Handler = () => ok([]);
  let inFlight = 0;
  let maxInFlight = 0;

  const send = async (res: ServerResponse, answer: ScriptedResponse): Promise<void> => {
    if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
    if (answer.action === 'hang') return;
    if (answer.action === 'reset') {
      res.socket?.destroy();
      return;
    }
    const body = answer.raw ?? (answer.json === undefined ? '' : JSON.stringify(answer.json));
    const headers: Record<string, string> = {
      'content-type': answer.raw !== undefined ? 'text/html' : 'application/json',
      ...answer.headers,
    };
    if (answer.action === 'truncate') {
      res.writeHead(answer.status ?? 200, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
      res.write(body.slice(0, Math.floor(body.length / 2)));
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    res.writeHead(answer.status ?? 200, headers);
    res.end(body);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(rawBody);
      } catch {
        body = undefined;
      }
      const endpoint = (req.url ?? '/').slice(1);
      const recorded: RecordedRequest = {
        endpoint,
        method: req.method ?? '',
        headers: req.headers,
        rawBody,
        body,
      };
      requests.push(recorded);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const queue = scripts.get(endpoint);
      const next = queue && queue.length > 0 ? queue.shift() : undefined;
      const handler: Handler = next === undefined ? fallback : typeof next === 'function' ? next : () => next;
      void (async () => {
        try {
          await send(res, await handler(recorded));
        } finally {
          inFlight--;
        }
      })();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    script(endpoint, ...responses) {
      const queue = scripts.get(endpoint) ?? [];
      queue.push(...responses);
      scripts.set(endpoint, queue);
    },
    setDefault(handler) {
      fallback = handler;
    },
    requestsTo(endpoint) {
      return requests.filter((r) => r.endpoint === endpoint);
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port with nothing listening on it (connections are refused). */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
