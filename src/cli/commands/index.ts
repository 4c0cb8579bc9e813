import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** A subcommand factory: one per file in this folder. */
export type CommandFactory = (ctx: CliContext) => Command;

/**
 * Every subcommand by name, in the order `--help` lists them, each with the import of its module. A run of
 * one command loads that command's module alone: all of them together take a second to load, which every
 * `ashpipe sync` would otherwise pay before its first request.
 */
export const commandModules: ReadonlyArray<readonly [name: string, load: () => Promise<CommandFactory>]> = [
  ['credentials', async () => (await import('./credentials.js')).credentialsCommand],
  ['streams', async () => (await import('./streams.js')).streamsCommand],
  ['sync', async () => (await import('./sync.js')).syncCommand],
  ['analytics', async () => (await import('./analytics.js')).analyticsCommand],
  ['demo', async () => (await import('./demo.js')).demoCommand],
  ['serve', async () => (await import('./serve.js')).serveCommand],
  ['worker', async () => (await import('./worker.js')).workerCommand],
  ['apply', async () => (await import('./apply.js')).applyCommand],
  ['export', async () => (await import('./apply.js')).exportCommand],
  ['webhooks', async () => (await import('./webhooks.js')).webhooksCommand],
  ['push', async () => (await import('./push.js')).pushCommand],
  ['operations', async () => (await import('./operations.js')).operationsCommand],
  ['quarantine', async () => (await import('./quarantine.js')).quarantineCommand],
  ['ledger', async () => (await import('./ledger.js')).ledgerCommand],
  ['pii', async () => (await import('./pii.js')).piiCommand],
  ['erase', async () => (await import('./erase.js')).eraseCommand],
  ['sandbox', async () => (await import('./sandbox.js')).sandboxCommand],
];

/**
 * The factories `argv` needs: the named command's alone when its first argument names one, else every
 * command (the help, `--version`, and a usage error that lists or suggests the commands see them all).
 */
export async function commandFactoriesFor(argv: readonly string[]): Promise<CommandFactory[]> {
  const named = commandModules.find(([name]) => name === argv[2]);
  return Promise.all((named ? [named] : commandModules).map(([, load]) => load()));
}
