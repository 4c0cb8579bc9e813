import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { AshbyError } from '../ashby/errors.js';
import { logClientEvent } from '../ashby/log-events.js';
import type { ClientEvent } from '../ashby/types.js';
import { HOME_DIR_MODE, resolveHome, SECRET_FILE_MODE } from '../control/home.js';
import { jsonLinesStream, LOG_FORMATS, type LogFormat, textLine } from '../observability/log-format.js';
import { defined } from '../util/defined.js';
import { Logger, type LogLevel } from '../util/logger.js';
import { redact } from '../util/redact.js';
import type { CliContext } from './context.js';
import { UsageError } from './exit-codes.js';

/** Directory under the ashpipe home that holds the run log. */
export const LOG_DIR = 'logs';
/** Name of the run log inside {@link LOG_DIR}. */
export const LOG_FILE = 'ashpipe.log';

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** The option {@link addLogFileOption} adds, as commander parses it. */
export interface LogFileOptions {
  /**
   * File that receives the run log (JSON lines).
   * @default '$ASHPIPE_HOME/logs/ashpipe.log'
   * @example '/var/log/ashpipe/sync.log'
   */
  logFile?: string;
  /**
   * What standard error shows: `text` (the human lines, as without the option) or `json` (every line a
   * JSON object carrying the run's ids: the run log at its level, and the human lines as `info`).
   * @default 'text'
   * @example 'json'
   */
  logFormat?: string;
}

/** Adds `--log-file <path>` to a command that calls Ashby. */
export function addLogFileOption(cmd: Command): Command {
  return cmd.option(
    '--log-file <path>',
    `append the run log (JSON lines) to this file instead of $ASHPIPE_HOME/${LOG_DIR}/${LOG_FILE}`,
  );
}

/**
 * Adds `--log-format text|json` to a long-running command (`serve`, `sync`, `push`, `webhooks receive`).
 */
export function addLogFormatOption(cmd: Command): Command {
  return cmd.option(
    '--log-format <format>',
    'standard error as text (default) or json: one JSON object per line, with the run id on each',
    'text',
  );
}

/** `--log-format`, checked. */
export function logFormatOf(value: string | undefined): LogFormat {
  if (value === undefined) return 'text';
  if (!(LOG_FORMATS as readonly string[]).includes(value))
    throw new UsageError(`--log-format must be one of ${LOG_FORMATS.join(', ')}, got ${value}`);
  return value as LogFormat;
}

/** The run log of one command: a logger bound to the command and a fresh run id. */
export interface RunLog {
  logger: Logger;
  /** The id on every line of this run. */
  runId: string;
  /** File the lines go to. */
  file: string;
  /** Feed the Ashby client's `onEvent` here: retries and 429s at warn, every answer at debug. */
  onClientEvent: (event: ClientEvent) => void;
  /** Logs the command's failure (with Ashby's code and requestId when there is one). */
  failed(error: unknown): void;
}

/** `ASHPIPE_LOG_LEVEL` of the command's environment, checked. */
export function logLevelOf(env: NodeJS.ProcessEnv): LogLevel {
  const value = env.ASHPIPE_LOG_LEVEL?.trim().toLowerCase();
  if (value === undefined || value === '') return 'info';
  if (!(LEVELS as readonly string[]).includes(value)) {
    throw new UsageError(`ASHPIPE_LOG_LEVEL must be one of ${LEVELS.join(', ')}, got ${value}`);
  }
  return value as LogLevel;
}

/** Creates the log file's directory (0700) and the file itself (0600) before the first line. */
function prepareFile(file: string): void {
  const dir = path.dirname(file);
  const created = mkdirSync(dir, { recursive: true, mode: HOME_DIR_MODE });
  // The umask may have loosened what mkdir created; a directory the owner made keeps its mode.
  if (created !== undefined) chmodSync(dir, HOME_DIR_MODE);
  closeSync(openSync(file, 'a', SECRET_FILE_MODE));
}

/** What a log line says of an error: Ashby's code and requestId, never a header or a body. */
export function errorFields(error: unknown): Record<string, unknown> {
  if (error instanceof AshbyError) {
    return {
      error: error.name,
      endpoint: error.endpoint,
      ...defined({ code: error.code, requestId: error.requestId, httpStatus: error.httpStatus }),
      message: error.detail,
    };
  }
  if (error instanceof Error) return { error: error.name, message: redact(error.message) };
  return { message: redact(String(error)) };
}

/** A sink target as logs show it: a URL loses its password (and any password parameter). */
export function describeTarget(target: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return target;
  try {
    const url = new URL(target);
    if (url.password) url.password = '';
    for (const name of [...url.searchParams.keys()])
      if (/pass/i.test(name)) url.searchParams.set(name, '[REDACTED]');
    return url.toString();
  } catch {
    return '[unparsable target]';
  }
}

/**
 * Opens the run log of a command that calls Ashby: `--log-file`, else `$ASHPIPE_HOME/logs/ashpipe.log`,
 * at `ASHPIPE_LOG_LEVEL` (default info). Every line is redacted by the logger.
 * @example const log = openRunLog(ctx, 'sync', opts); log.logger.info('sync started', { streams });
 */
export function openRunLog(
  ctx: CliContext,
  command: string,
  opts: LogFileOptions = {},
  /** Also write the log on standard error in text mode (`serve`); in JSON mode every command does. */
  echo = false,
): RunLog {
  const format = logFormatOf(opts.logFormat);
  const level = logLevelOf(ctx.env);
  const file =
    opts.logFile !== undefined && opts.logFile !== ''
      ? path.resolve(opts.logFile)
      : path.join(resolveHome(ctx.env), LOG_DIR, LOG_FILE);
  prepareFile(file);
  // Concurrent runs append to the same file; the run id tells their lines apart.
  const runId = randomBytes(6).toString('hex');
  const bindings = { command, runId };
  const stderr = ctx.io.stderr;
  const toStderr = (line: string) => stderr.write(`${line}\n`);
  const sink = format === 'json' ? toStderr : echo ? (line: string) => toStderr(textLine(line)) : undefined;
  const logger = new Logger({ level, file, ...(sink ? { sink } : {}) }, bindings);
  if (format === 'json') {
    // From here on, whatever the command prints for a person goes out as JSON lines of this run too.
    ctx.io.stderr = jsonLinesStream(new Logger({ level: 'debug', sink: toStderr }, bindings));
  }
  return {
    logger,
    runId,
    file,
    onClientEvent: (event) => logClientEvent(logger, event),
    failed(error) {
      logger.error(`${command} failed`, errorFields(error));
    },
  };
}

/**
 * Runs a command's work under its run log: logs the failure (then rethrows it) so that every run ends
 * with a line saying how it ended.
 */
export async function logged<T>(log: RunLog, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    log.failed(error);
    throw error;
  }
}
