import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { analyticsCommand } from './analytics.js';
import { applyCommand, exportCommand } from './apply.js';
import { credentialsCommand } from './credentials.js';
import { demoCommand } from './demo.js';
import { eraseCommand } from './erase.js';
import { operationsCommand } from './operations.js';
import { piiCommand } from './pii.js';
import { pushCommand } from './push.js';
import { quarantineCommand } from './quarantine.js';
import { sandboxCommand } from './sandbox.js';
import { serveCommand } from './serve.js';
import { streamsCommand } from './streams.js';
import { syncCommand } from './sync.js';
import { webhooksCommand } from './webhooks.js';
import { workerCommand } from './worker.js';

/** A subcommand factory: one per file in this folder. */
export type CommandFactory = (ctx: CliContext) => Command;

/** Every subcommand, in the order `--help` lists them. */
export const commandFactories: CommandFactory[] = [
  credentialsCommand,
  streamsCommand,
  syncCommand,
  analyticsCommand,
  demoCommand,
  serveCommand,
  workerCommand,
  applyCommand,
  exportCommand,
  webhooksCommand,
  pushCommand,
  operationsCommand,
  quarantineCommand,
  piiCommand,
  eraseCommand,
  sandboxCommand,
];
