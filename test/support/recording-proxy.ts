/**
 * A pass-through proxy in front of an Ashby-compatible server (the sandbox) that records every request
 * body exactly as the client sent it, so a test can look at what a real run of the engines sends.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  endpoint: string;
  body: Record<string, unknown>;
  /** HTTP status of the upstream answer. */
  status: number;
  /** The upstream's `nextCursor`, when it handed one out. */
  nextCursor?: string;
}

export interface RecordingProxy {
  url: string;
  requests: Recorded[];
  close(): Promise<void>;
}

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      try {
        const answer = await fetch(`${target}${req.url ?? '/'}`, {
          method: req.method ?? 'POST',
          headers: {
            authorization: String(req.headers.authorization ?? ''),
            'content-type': 'application/json',
          },
          body: raw,
        });
        const text = await answer.text();
        const parsed = JSON.parse(raw === '' ? '{}' : raw) as Record<string, unknown>;
        let nextCursor: string | undefined;
        try {
          const envelope = JSON.parse(text) as { nextCursor?: unknown };
          if (typeof envelope.nextCursor === 'string') nextCursor = envelope.nextCursor;
        } catch {
          // Not JSON (an HTML error page): nothing to remember.
        }
        requests.push({
          endpoint: (req.url ?? '/').slice(1).split('?')[0] ?? '',
          body: parsed,
          status: answer.status,
          ...(nextCursor !== undefined ? { nextCursor } : {}),
        });
        res.writeHead(answer.status, {
          'content-type': answer.headers.get('content-type') ?? 'application/json',
        });
        res.end(text);
      } catch {
        res.destroy();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
