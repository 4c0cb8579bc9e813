import { appendFileSync } from 'node:fs';
import { redact, redactDeep } from './redact.js';

/** Severity of a log line. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Where and how much ashpipe logs. */
export interface LoggerOptions {
  /**
   * Lowest level written.
   * @default 'info' (or `ASHPIPE_LOG_LEVEL`)
   * @example 'debug'
   */
  level?: LogLevel;
  /**
   * File that receives one JSON object per line; none when absent.
   * @example '.ashpipe/ashpipe.log'
   */
  file?: string;
  /** Extra sink for each line (tests, the server's live log). */
  sink?: (line: string) => void;
}

/** A structured logger whose every line passes through the redaction module. */
export class Logger {
  private readonly min: number;
  constructor(
    private readonly options: LoggerOptions = {},
    private readonly bindings: Record<string, unknown> = {},
  ) {
    const env = process.env.ASHPIPE_LOG_LEVEL as LogLevel | undefined;
    this.min = ORDER[options.level ?? (env && env in ORDER ? env : 'info')];
  }

  /** A logger that adds `bindings` to every line. */
  child(bindings: Record<string, unknown>): Logger {
    return new Logger(this.options, { ...this.bindings, ...bindings });
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.write('error', msg, fields);
  }

  private write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (ORDER[level] < this.min || (!this.options.file && !this.options.sink)) return;
    const record = redactDeep({ time: new Date().toISOString(), level, msg, ...this.bindings, ...fields });
    const line = redact(JSON.stringify(record));
    if (this.options.file) appendFileSync(this.options.file, `${line}\n`, { mode: 0o600 });
    this.options.sink?.(line);
  }
}

/** A logger that writes nothing. */
export const silentLogger = new Logger({});
