/**
 * The child processes of the sync benches (bench/sync.ts, bench/sync-postgres.ts): the sandbox in its own
 * process, the sync child on `src/` compiled ahead, and their clean-up when the bench is interrupted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root: children run there. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const children = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const c of children) c.kill('SIGTERM');
    process.exit(1);
  });
}

/** A node child in the root (a `.mjs` file runs without the TypeScript loader), stopped with the bench. */
export function node(args: string[]): ChildProcess {
  const plain = args[0]?.endsWith('.mjs') ?? false;
  const child = spawn(process.execPath, [...(plain ? [] : ['--import', 'tsx']), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/**
 * The sandbox in its own process (bench/sync.ts's `--child sandbox` mode), so that its CPU is not the
 * sync's; `faults` are the sandbox's fault options.
 */
export async function startSandboxProcess(
  scale: number,
  faults?: object,
): Promise<{ url: string; stop(): Promise<void> }> {
  const child = node([
    'bench/sync.ts',
    '--child',
    'sandbox',
    '--scale',
    String(scale),
    ...(faults ? ['--faults', JSON.stringify(faults)] : []),
  ]);
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n')[0];
      if (buf.includes('\n') && line) resolve(line.trim());
    });
    child.on('exit', (code) => reject(new Error(`sandbox exited with ${code}`)));
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        child.on('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Runs a child to its end; its last line of output is its measurement, as JSON. */
export async function runChild<T>(args: string[]): Promise<T> {
  const child = node(args);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`${args.join(' ')} exited with ${code}`);
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as T;
}

/** Compiles `src/` into `dist` for the sync child: users run the compiled code, not the TypeScript loader. */
export function buildDist(dist: string): Promise<void> {
  fs.rmSync(dist, { recursive: true, force: true });
  // The compiled `version.js` reads `../package.json`, as `dist/version.js` does in the package.
  fs.mkdirSync(path.dirname(dist), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(path.dirname(dist), 'package.json'));
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const child = spawn(
    process.execPath,
    [tsc, '-p', 'tsconfig.build.json', '--outDir', dist, '--sourceMap', 'false', '--declaration', 'false'],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  return new Promise((resolve, reject) =>
    child.on('exit', () =>
      // Type errors elsewhere still emit; only a missing sync entry point stops the bench.
      fs.existsSync(path.join(dist, 'sync', 'index.js'))
        ? resolve()
        : reject(new Error('tsc emitted no dist/sync/index.js')),
    ),
  );
}
