/**
 * The structured logger: pino underneath (levels, child bindings, fast JSON), one JSON object per line,
 * and the redaction module applied to every line on its way out — fields named like secrets are masked
 * whole, and the finished line passes through {@link redact}, so a registered secret cannot reach a file,
 * a terminal or a test sink in any field or spelling.
 */
import { appendFileSync } from 'node:fs';
import { type DestinationStream, type Logger as Pino, pino } from 'pino';
import { redact, redactDeep } from '../util/redact.js';

/** Severity of a log line. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The accepted values of {@link LogLevel}, lowest first. */
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

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
  /** Extra sink for each line, without its newline (tests, the server's live log, the terminal). */
  sink?: (line: string) => void;
}

function levelOf(options: LoggerOptions): LogLevel {
  if (options.level) return options.level;
  const env = process.env.ASHPIPE_LOG_LEVEL as LogLevel | undefined;
  return env && LOG_LEVELS.includes(env) ? env : 'info';
}

/** Writes each finished line to the file and the sink, synchronously (a crash loses no line). */
function destinationOf(options: LoggerOptions): DestinationStream {
  const { file, sink } = options;
  return {
    write(line: string) {
      if (file) appendFileSync(file, line, { mode: 0o600 });
      sink?.(line.endsWith('\n') ? line.slice(0, -1) : line);
    },
  };
}

function createPino(options: LoggerOptions): Pino {
  if (!options.file && !options.sink) return pino({ level: 'silent' });
  return pino(
    {
      level: levelOf(options),
      // Lines carry what ashpipe binds (command, run and flow ids), not the host and pid.
      base: null,
      messageKey: 'msg',
      timestamp: () => `,"time":"${new Date().toISOString()}"`,
      formatters: {
        level: (label) => ({ level: label }),
        bindings: (bindings) => redactDeep(bindings),
        log: (fields) => redactDeep(fields),
      },
      hooks: { streamWrite: (line) => redact(line) },
    },
    destinationOf(options),
  );
}

/** A structured logger whose every line passes through the redaction module. */
export class Logger {
  private readonly pino: Pino;

  constructor(options: LoggerOptions = {}, bindings: Record<string, unknown> = {}, parent?: Pino) {
    const root = parent ?? createPino(options);
    this.pino = Object.keys(bindings).length > 0 ? root.child(bindings) : root;
  }

  /** A logger that adds `bindings` to every line. */
  child(bindings: Record<string, unknown>): Logger {
    return new Logger({}, bindings, this.pino);
  }

  /** Whether lines of `level` are written (skip building costly fields otherwise). */
  isEnabled(level: LogLevel): boolean {
    return this.pino.isLevelEnabled(level);
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.pino.debug(fields ?? {}, msg);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.pino.info(fields ?? {}, msg);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.pino.warn(fields ?? {}, msg);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.pino.error(fields ?? {}, msg);
  }
}

/** A logger that writes nothing. */
export const silentLogger = new Logger({});
