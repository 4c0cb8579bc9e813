import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** A subcommand factory: one per file in this folder. */
export type CommandFactory = (ctx: CliContext) => Command;

/** Every subcommand, in the order `--help` lists them. */
export const commandFactories: CommandFactory[] = [];
