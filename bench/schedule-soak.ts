/**
 * Soak: `ashpipe serve` (the compiled CLI, as users run it) runs a scheduled source flow against the sandbox
 * for a stated time while the sandbox's data keeps changing. It passes when the server never exits, every
 * scheduled run succeeds, the runs keep coming at the schedule's pace and `/health` keeps answering.
 * Run it under each Node the project supports; each Node gets its own row of the "## Scheduled flow soak" section.
 *
 * Usage: npm run bench:schedule-soak [-- --minutes 10 --every 20 --scale 2000 --dry-run]
 * (`--every` seconds between scheduled runs; a 6-field cron expression with seconds)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    every: { type: 'string', default: '20' },
    scale: { type: 'string', default: '2000' },
    'dry-run': { type: 'boolean', default: false },
  },
});
const minutes = Number(values.minutes);
const everySeconds = Number(values.every);
const scale = Number(values.scale);
const ADMIN_PASSWORD = 'soak-admin-password-0';
const log = (s: string) => process.stderr.write(`${s}\n`);

const children = new Set<ChildProcess>();
function stopAll(): void {
  for (const c of children) c.kill('SIGTERM');
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopAll();
    process.exit(1);
  });
}

function ashpipe(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'ashpipe.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function firstLineMatching(child: ChildProcess, re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const m = re.exec(buf);
      if (m) resolve(m[0]);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) =>
      reject(new Error(`exited with ${code} before printing ${re}: ${buf.slice(-500)}`)),
    );
  });
}

async function run(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const child = ashpipe(args, env);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`ashpipe ${args.join(' ')} exited with ${code}: ${err.slice(-500)}`);
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  status: string;
  trigger: string;
  startedAt: string;
  error?: string | null;
}

async function main(): Promise<void> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-soak-'));
  const env = { ASHPIPE_HOME: home, ASHPIPE_ADMIN_PASSWORD: ADMIN_PASSWORD, SOAK_ASHBY_KEY: 'sandbox-full' };
  fs.mkdirSync(path.join(home, 'data'), { recursive: true, mode: 0o700 });

  const sandbox = ashpipe(['sandbox', '--port', '0', '--scale', String(scale)], env);
  const sandboxUrl = await firstLineMatching(sandbox, /http:\/\/127\.0\.0\.1:\d+/);
  log(`sandbox at ${sandboxUrl}`);

  const added = JSON.parse(
    await run(
      [
        'credentials',
        'add',
        '--name',
        'soak',
        '--api-key-env',
        'SOAK_ASHBY_KEY',
        '--base-url',
        sandboxUrl,
        '--json',
      ],
      env,
    ),
  ) as { credential?: { id: string }; id?: string };
  const credentialId = added.credential?.id ?? added.id;
  if (!credentialId) throw new Error('credentials add printed no id');

  const port = await freePort();
  const serve = ashpipe(['serve', '--port', String(port)], env);
  let serveExit: string | undefined;
  serve.on('exit', (code, signal) => {
    serveExit = `exit code ${code}, signal ${signal}`;
  });
  let serveErr = '';
  serve.stderr?.on('data', (d: Buffer) => {
    serveErr = (serveErr + d.toString()).slice(-4000);
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i += 1) {
    try {
      if ((await fetch(`${base}/api/v1/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 100 || serveExit) throw new Error(`serve did not start (${serveExit ?? 'timeout'}): ${serveErr}`);
    await sleep(100);
  }

  const login = await fetch(`${base}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password: ADMIN_PASSWORD }),
  });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const { csrfToken } = (await login.json()) as { csrfToken: string };
  const tokenRes = await fetch(`${base}/api/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken },
    body: JSON.stringify({ name: 'soak' }),
  });
  const { plaintext } = (await tokenRes.json()) as { plaintext: string };
  const api = async (method: string, pathName: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${base}/api/v1${pathName}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${plaintext}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${pathName}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };

  const { flow } = (await api('POST', '/flows', {
    kind: 'source',
    name: 'soak',
    credentialId,
    schedule: `*/${everySeconds} * * * * *`,
    streams: ['candidates', 'applications', 'jobs', 'users', 'departments', 'interview_stages'],
    target: { type: 'sqlite', path: path.join(home, 'data', 'soak.db') },
  })) as { flow: { id: string } };
  await api('POST', `/flows/${flow.id}/activate`);
  log(`flow ${flow.id} every ${everySeconds} s for ${minutes} min on Node ${process.version}`);

  const started = Date.now();
  const rss: number[] = [];
  const health: number[] = [];
  while (Date.now() - started < minutes * 60_000 && !serveExit) {
    await sleep(5_000);
    if (serveExit) break;
    rss.push(rssMb(serve.pid ?? 0));
    const t0 = performance.now();
    await fetch(`${base}/api/v1/health`);
    health.push(performance.now() - t0);
    // Keep the data moving so incremental runs have work to do.
    await fetch(`${sandboxUrl}/_sandbox/mutate/churn`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ fraction: 0.005, seed: health.length }),
    });
  }
  const elapsedMin = (Date.now() - started) / 60_000;
  const runs = serveExit
    ? []
    : ((await api('GET', `/runs?flowId=${flow.id}&limit=500`)) as { runs: Run[] }).runs;
  // Only an exit before this point is a crash; the SIGTERM below is the soak's own stop.
  const crashed = serveExit;
  serve.kill('SIGTERM');
  sandbox.kill('SIGTERM');
  await sleep(500);
  stopAll();

  const scheduled = runs.filter((r) => r.trigger === 'schedule');
  const ok = scheduled.filter((r) => r.status === 'succeeded');
  const bad = scheduled.filter((r) => r.status !== 'succeeded' && r.status !== 'running');
  const expected = Math.floor((elapsedMin * 60) / everySeconds);
  const sortedHealth = [...health].sort((a, b) => a - b);
  const p99 = sortedHealth[Math.min(sortedHealth.length - 1, Math.floor(sortedHealth.length * 0.99))] ?? 0;
  const { SQLITE_DRIVER } = await import('../src/util/sqlite.js');
  const pass = !crashed && bad.length === 0 && ok.length >= expected * 0.8;
  const row = `| ${process.version} | ${SQLITE_DRIVER} | ${elapsedMin.toFixed(1)} | ${ok.length} of ${scheduled.length} (≈${expected} slots) | ${bad.length} | ${crashed ?? 'up throughout'} | ${(rss[0] ?? 0).toFixed(0)} → ${(rss.at(-1) ?? 0).toFixed(0)} (max ${Math.max(0, ...rss).toFixed(0)}) | ${p99.toFixed(0)} | ${pass ? 'pass' : '**FAIL**'} |`;
  if (bad.length) log(`failed runs: ${JSON.stringify(bad.slice(0, 3))}`);
  if (crashed) log(`serve stopped: ${serveExit}\n${serveErr}`);

  const heading = '## Scheduled flow soak';
  const file = path.join(ROOT, 'BENCHMARKS.md');
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const existing = new RegExp(`${heading}\\n[\\s\\S]*?(?=\\n## |$)`).exec(current)?.[0] ?? '';
  const major = process.version.split('.')[0] ?? '';
  const rows = existing
    .split('\n')
    .filter((l) => /^\| v\d/.test(l) && !l.startsWith(`| ${major}.`))
    .concat(row)
    .sort();
  const section = [
    heading,
    '',
    `\`ashpipe serve\` (the compiled CLI) runs a source flow of six streams scheduled every ${everySeconds} s against the sandbox (${scale} candidates, 0.5 % of records changed every 5 s) for the stated time; RSS of the server process and \`/health\` latency sampled every 5 s. Passes when the server never exits, no scheduled run fails and at least 80 % of the schedule's slots ran (a slot that comes while the previous run is still going is skipped by design). Command, under each Node: \`npm run bench:schedule-soak\`. Machine: ${os.cpus()[0]?.model ?? 'unknown'} (${os.cpus().length} logical CPUs). Last updated: ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| Node | SQLite build | minutes | scheduled runs succeeded | failed | server | RSS MB start → end | `/health` p99 ms | result |',
    '| --- | --- | ---: | --- | ---: | --- | --- | ---: | --- |',
    ...rows,
    '',
  ].join('\n');
  process.stdout.write(`${section}\n`);
  if (!values['dry-run']) {
    const next = existing ? current.replace(existing, section) : `${current.trimEnd()}\n\n${section}`;
    fs.writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
  }
  fs.rmSync(home, { recursive: true, force: true });
  if (!pass) process.exitCode = 1;
}

await main();
