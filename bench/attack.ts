/**
 * An attack on a running `ashpipe serve`, for the soak benchmark and its functional test: connections
 * that send oversized bodies (announced and chunked) and connections that send their headers or body a
 * byte at a time, all kept open (a connection that ends is opened again) while `/health` is probed.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** How many connections of each kind are open at once. */
export interface AttackMix {
  /** POST /api/v1/session announcing 400 MB and sending as fast as the socket takes it. */
  oversized: number;
  /** The same, chunked, without a length. */
  chunked: number;
  /** Headers sent one line per `slowMs`, never finished. */
  slowHeaders: number;
  /** A small announced body sent one byte per `slowMs`. */
  slowBody: number;
}

/** 25 of each kind: 100 connections. */
export const DEFAULT_MIX: AttackMix = { oversized: 25, chunked: 25, slowHeaders: 25, slowBody: 25 };

/** What the attack did. */
export interface AttackStats {
  /** Connections opened in all. */
  connections: number;
  /** Bytes the attackers wrote. */
  bytesSent: number;
  /** Answers by status code (the oversized ones should be 413). */
  statuses: Record<string, number>;
}

/** A running attack: stop it to close every connection. */
export interface Attack {
  stats: AttackStats;
  stop(): void;
}

/**
 * Starts the attack against `host:port`; each kind keeps its number of connections open until stopped.
 * Oversized senders write a 64 KiB block every `floodEveryMs` (3.2 MB/s each by default, 160 MB/s for
 * the 50 of the default mix): a network's worth, not what the attacking process could push over loopback
 * on the same cores as the server it measures.
 */
export function startAttack(
  port: number,
  mix: AttackMix = DEFAULT_MIX,
  options: { slowMs?: number; floodEveryMs?: number; host?: string } = {},
): Attack {
  const slowMs = options.slowMs ?? 200;
  const floodEveryMs = options.floodEveryMs ?? 20;
  const host = options.host ?? '127.0.0.1';
  const stats: AttackStats = { connections: 0, bytesSent: 0, statuses: {} };
  let stopped = false;
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const block = Buffer.alloc(64 * 1024, 0x7b);

  const open = (kind: keyof AttackMix): void => {
    if (stopped) return;
    stats.connections += 1;
    const socket = net.connect({ host, port });
    sockets.add(socket);
    let answered = false;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (answered) return;
      const status = /^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'))?.[1];
      if (status) {
        answered = true;
        stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      // Keep the pressure on: a closed connection is replaced, after a pause so a refusal is not a busy loop.
      if (!stopped) {
        const t = setTimeout(() => {
          timers.delete(t);
          open(kind);
        }, 200);
        timers.add(t);
      }
    });
    const write = (data: string | Buffer): boolean => {
      if (socket.destroyed) return false;
      stats.bytesSent += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
      return socket.write(data);
    };
    const every = (fn: () => boolean) => {
      const t = setInterval(() => {
        if (stopped || socket.destroyed || !fn()) {
          clearInterval(t);
          timers.delete(t);
        }
      }, slowMs);
      timers.add(t);
    };
    const flood = (data: Buffer) => {
      const t = setInterval(() => {
        if (stopped || socket.destroyed || answered) {
          clearInterval(t);
          timers.delete(t);
          return;
        }
        if (socket.writableLength < 1024 * 1024) write(data);
      }, floodEveryMs);
      timers.add(t);
    };
    socket.once('connect', () => {
      const head = `POST /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n`;
      if (kind === 'oversized') {
        write(`${head}Content-Length: ${400 * 1024 * 1024}\r\n\r\n`);
        flood(block);
      } else if (kind === 'chunked') {
        write(`${head}Transfer-Encoding: chunked\r\n\r\n`);
        flood(Buffer.concat([Buffer.from(`${block.length.toString(16)}\r\n`), block, Buffer.from('\r\n')]));
      } else if (kind === 'slowHeaders') {
        write('POST /api/v1/session HTTP/1.1\r\n');
        let n = 0;
        every(() => write(`X-Slow-${n++}: ${'a'.repeat(8)}\r\n`));
      } else {
        write(`${head}Content-Length: 100000\r\n\r\n`);
        every(() => write('{'));
      }
    });
  };

  for (const kind of Object.keys(mix) as Array<keyof AttackMix>)
    for (let i = 0; i < mix[kind]; i++) open(kind);
  return {
    stats,
    stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
    },
  };
}

/** One GET of `/api/v1/health` on a fresh connection: its status and milliseconds. */
export function probeHealth(
  port: number,
  timeoutMs = 5000,
  host = '127.0.0.1',
): Promise<{ status: number; ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect({ host, port });
    let text = '';
    const done = (status: number) => {
      socket.destroy();
      resolve({ status, ms: performance.now() - started });
    };
    socket.setTimeout(timeoutMs, () => done(0));
    socket.on('error', () => done(0));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      if (status && text.includes('\r\n\r\n')) done(Number(status));
    });
    socket.once('connect', () =>
      socket.write(`GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
    );
  });
}

/** A `serve` child process of the built CLI, on a free port of loopback. */
export interface ServeProcess {
  port: number;
  pid: number;
  /** Resident memory of the server now, in MB (Linux `/proc`), or undefined elsewhere. */
  rssMb(): number | undefined;
  stop(): Promise<number | null>;
}

/** Starts `ashpipe serve --port 0` with `env` and resolves once it listens; `onStderr` sees its stderr. */
export async function startServe(
  env: NodeJS.ProcessEnv,
  args: string[] = [],
  onStderr?: (text: string) => void,
): Promise<ServeProcess> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const child = spawn(
    process.execPath,
    [path.join(root, 'bin', 'ashpipe.js'), 'serve', '--port', '0', ...args],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      onStderr?.(chunk);
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(stderr);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const { readFileSync } = await import('node:fs');
  return {
    port,
    pid: child.pid ?? 0,
    rssMb() {
      try {
        const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
        return kb === undefined ? undefined : Number(kb) / 1024;
      } catch {
        return undefined;
      }
    },
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
