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

/**
 * A structured logger whose every line passes through the redaction module. Each key appears once in a
 * line: a child's binding replaces its parent's (a flow run's `runId` replaces the `serve` process's), and
 * so does a field of the line (pino itself would write both, and readers disagree on which counts).
 */
export class Logger {
  private readonly pino: Pino;
  /** The unbound pino logger every child is made from, with its merged bindings. */
  private readonly root: Pino;
  private readonly bindings: Record<string, unknown>;

  constructor(options: LoggerOptions = {}, bindings: Record<string, unknown> = {}, root?: Pino) {
    this.root = root ?? createPino(options);
    this.bindings = bindings;
    this.pino = Object.keys(bindings).length > 0 ? this.root.child(bindings) : this.root;
  }

  /** A logger that adds `bindings` to every line (replacing the bindings of the same name). */
  child(bindings: Record<string, unknown>): Logger {
    return new Logger({}, { ...this.bindings, ...bindings }, this.root);
  }

  /** Whether lines of `level` are written (skip building costly fields otherwise). */
  isEnabled(level: LogLevel): boolean {
    return this.pino.isLevelEnabled(level);
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

  private write(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    const bound = Object.keys(fields).filter((k) => Object.hasOwn(this.bindings, k));
    if (bound.length === 0) {
      this.pino[level](fields, msg);
      return;
    }
    if (!this.pino.isLevelEnabled(level)) return;
    // A field named like a binding (`runId` on the server's own logger) replaces it on this line.
    const rest = { ...fields };
    const replaced: Record<string, unknown> = {};
    for (const k of bound) {
      replaced[k] = rest[k];
      delete rest[k];
    }
    this.child(replaced).pino[level](rest, msg);
  }
}

/** A logger that writes nothing. */
export const silentLogger = new Logger({});
