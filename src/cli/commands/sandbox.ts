import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { ALL_SCOPES, type Scope } from '../../ashby/catalogue.js';
import { parseFaults, type SandboxKey, startSandbox } from '../../sandbox/index.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../exit-codes.js';
import { untilStopped } from '../signals.js';

function int(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return n;
  };
}

function rate(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidArgumentError('must be a number between 0 and 1');
  return n;
}

/** Reads `--keys FILE`: a JSON array of {key, title?, scopes, confidential, deactivated?}. */
function readKeys(file: string): SandboxKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(
      `--keys: cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (!Array.isArray(parsed)) throw new UsageError('--keys: the file must hold a JSON array of keys');
  return parsed.map((raw, i) => {
    const k = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    if (typeof k.key !== 'string' || k.key === '')
      throw new UsageError(`--keys: entry ${i} needs a "key" string`);
    if (!Array.isArray(k.scopes)) throw new UsageError(`--keys: entry ${i} needs a "scopes" array`);
    const scopes = k.scopes.map((s) => {
      if (typeof s !== 'string' || !(ALL_SCOPES as readonly string[]).includes(s)) {
        throw new UsageError(`--keys: entry ${i} has an unknown scope ${JSON.stringify(s)}`);
      }
      return s as Scope;
    });
    const key: SandboxKey = { key: k.key, scopes, confidential: k.confidential === true };
    if (typeof k.title === 'string') key.title = k.title;
    if (k.deactivated === true) key.deactivated = true;
    return key;
  });
}

export function sandboxCommand(ctx: CliContext): Command {
  return new Command('sandbox')
    .description(
      'Run an Ashby-compatible sandbox API server with seeded data (keys: sandbox-full, sandbox-read)',
    )
    .option('--port <port>', 'TCP port (0 picks a free one)', int('--port'), 4010)
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--seed <n>', 'seed of the generated data', int('--seed'), 1)
    .option('--scale <n>', 'number of seeded candidates', int('--scale'), 1000)
    .option('--keys <file>', 'JSON array of extra keys {key, title, scopes, confidential, deactivated}')
    .option('--latency <ms>', 'delay every answer by this many milliseconds', int('--latency'))
    .option(
      '--rate-limit <rps>',
      'token bucket per key: requests per second (429 with Retry-After beyond)',
      int('--rate-limit'),
    )
    .option('--burst <n>', 'token bucket size for --rate-limit', int('--burst'))
    .option('--error-rate <p>', 'share of requests answered with a 5xx', rate)
    .option('--truncate-rate <p>', 'share of answers cut mid-body', rate)
    .option('--reset-rate <p>', 'share of requests whose connection is reset', rate)
    .option(
      '--expire-cursor-after <pages>',
      'cursors expire after this many pages',
      int('--expire-cursor-after'),
    )
    .option('--fault-seed <n>', 'seed of the random faults', int('--fault-seed'))
    .option('--faults <json>', 'any fault configuration as JSON (same shape as POST /_sandbox/faults)')
    .option(
      '--max-incremental-pages <n>',
      'incremental requests deeper than this many pages answer incremental_sync_too_large',
      int('--max-incremental-pages'),
    )
    .option(
      '--webhook-retry-base <ms>',
      "base of the webhook retry delays, (2^n - 1) x this (Ashby's is 10000; smaller for tests)",
      int('--webhook-retry-base'),
      10_000,
    )
    .option('--json', 'print the address as JSON on stdout')
    .action(async (opts: Record<string, unknown>) => {
      const out = ctx.output(opts.json === true);
      let faults: ReturnType<typeof parseFaults>;
      try {
        faults = typeof opts.faults === 'string' ? parseFaults(JSON.parse(opts.faults)) : {};
      } catch (error) {
        throw new UsageError(`--faults: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (typeof opts.latency === 'number') faults.latencyMs = opts.latency;
      if (typeof opts.rateLimit === 'number') {
        faults.rateLimit = {
          rps: opts.rateLimit,
          burst: typeof opts.burst === 'number' ? opts.burst : Math.max(1, opts.rateLimit),
        };
      }
      if (typeof opts.errorRate === 'number') faults.errorRate = opts.errorRate;
      if (typeof opts.truncateRate === 'number') faults.truncateRate = opts.truncateRate;
      if (typeof opts.resetRate === 'number') faults.resetRate = opts.resetRate;
      if (typeof opts.expireCursorAfter === 'number') faults.expireCursorAfterPages = opts.expireCursorAfter;
      if (typeof opts.faultSeed === 'number') faults.seed = opts.faultSeed;
      const keys = typeof opts.keys === 'string' ? readKeys(opts.keys) : [];
      const sandbox = await startSandbox({
        port: Number(opts.port),
        host: String(opts.host),
        seed: Number(opts.seed),
        scale: Number(opts.scale),
        keys,
        faults,
        webhookRetryBaseMs: Number(opts.webhookRetryBase),
        ...(typeof opts.maxIncrementalPages === 'number' && opts.maxIncrementalPages > 0
          ? { maxIncrementalPages: opts.maxIncrementalPages }
          : {}),
      });
      out.result(
        {
          url: sandbox.url,
          port: sandbox.port,
          keys: ['sandbox-full', 'sandbox-read', ...keys.map((k) => k.title ?? '(custom)')],
        },
        () =>
          [
            `Ashby sandbox listening on ${sandbox.url} (seed ${String(opts.seed)}, scale ${String(opts.scale)}, made-up data).`,
            'API keys: sandbox-full (every permission, confidential records too), sandbox-read (read-only)',
            ...(keys.length > 0 ? [`  and ${keys.length} from --keys`] : []),
            'Use it from another terminal:',
            `  ASHBY_API_KEY=sandbox-full npx ashpipe sync --base-url ${sandbox.url} --to ./ashby.db`,
            `  npx ashpipe credentials add --name sandbox --base-url ${sandbox.url}   (paste sandbox-full when asked)`,
            'Ctrl-C stops it.',
          ].join('\n'),
      );
      await untilStopped();
      await sandbox.close();
    });
}
