import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { parse as parseCsv } from 'csv-parse/sync';
import { AshbyClient } from '../../ashby/index.js';
import { CONTROL_URL_ENV, controlUrl } from '../../control/open.js';
import { pushAccount } from '../../push/account.js';
import { type PushSummary, type RecordResult, runPush } from '../../push/engine.js';
import { checkHeader, describeHeaderProblem } from '../../push/header.js';
import {
  formatOf,
  InputFileError,
  type InputFormat,
  type InputSource,
  inputLabelOf,
  readInput,
} from '../../push/input.js';
import { openInputFile } from '../../push/input-file.js';
import { IDENTITY_MAPPING, loadMapping, type Mapping } from '../../push/mapping.js';
import { resolveOperation } from '../../push/operations/resolve.js';
import type { OnExisting, Operation } from '../../push/types.js';
import { defined } from '../../util/defined.js';
import { safeStringify } from '../../util/redact.js';
import type { CliContext } from '../context.js';
import { addControlOption, type ControlOptions, openCliControl } from '../control-option.js';
import { ExitCode, ExitError, UsageError } from '../exit-codes.js';
import { addKeyOptions, type KeyOptions, resolveAshbyAccess } from '../key-options.js';
import { createPushProgress } from '../render/push-progress.js';
import { count } from '../render/words.js';
import { addLogFileOption, addLogFormatOption, type LogFileOptions, logged, openRunLog } from '../run-log.js';

interface PushCliOptions extends KeyOptions, LogFileOptions, ControlOptions {
  endpoint: string;
  manual?: boolean;
  input?: string;
  format?: InputFormat;
  from?: string;
  query?: string;
  map?: string;
  key?: string;
  onExisting: OnExisting;
  dryRun?: boolean;
  results?: string;
  concurrency: string;
  requestTimeout?: string;
  quarantineRetention?: string;
  json?: boolean;
}

/** Builds the input source from `--input` or `--from` + `--query`. */
export function inputSource(opts: Pick<PushCliOptions, 'input' | 'format' | 'from' | 'query'>): InputSource {
  if (opts.input !== undefined && opts.from !== undefined)
    throw new UsageError('use either --input or --from, not both');
  if (opts.from !== undefined) {
    if (opts.query === undefined) throw new UsageError('--from needs --query "SELECT …"');
    return { kind: 'sql', from: opts.from, query: opts.query };
  }
  if (opts.input === undefined)
    throw new UsageError('give the records with --input FILE or --from … --query …');
  if (!existsSync(opts.input)) throw new UsageError(`--input ${opts.input} does not exist`);
  return { kind: 'file', file: opts.input, ...(opts.format ? { format: opts.format } : {}) };
}

/** Column names that can never be field names (they would reach an object's prototype). */
const FORBIDDEN_NAMES = new Set(['__proto__']);

/** The header of a CSV file (its first record), or `undefined` when it cannot be read as one. */
export function readCsvHeader(file: string): string[] | undefined {
  const fd = openSync(file, 'r');
  let text: string;
  try {
    const buffer = Buffer.alloc(256 * 1024);
    text = buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0)).toString('utf8');
  } finally {
    closeSync(fd);
  }
  try {
    const records = parseCsv(text, { bom: true, to: 1, relax_column_count: true }) as string[][];
    return records[0];
  } catch {
    // An unreadable first record is reported row by row by the reader, as before.
    return undefined;
  }
}

/** One line of the human summary. */
export function formatPushSummary(summary: PushSummary): string {
  const c = summary.counts;
  const parts = [
    `${c.created} created`,
    `${c.updated} updated`,
    `${c['skipped-existing']} skipped (already in Ashby)`,
    `${c['skipped-done']} skipped (done in an earlier run)`,
    `${c.quarantined} ${summary.dryRun ? 'would be quarantined' : 'quarantined'}`,
    `${c.failed} failed`,
  ];
  if (c.pending > 0) parts.push(`${c.pending} pending`);
  if (summary.dryRun) parts.unshift(`${c['dry-run']} would be sent`);
  return `${summary.dryRun ? 'dry run of ' : ''}${summary.operation}: ${count(summary.total, 'record')} — ${parts.join(', ')}`;
}

/** Exit code of a finished run: 1 stopped, 3 anything quarantined or failed, else 0. */
export function exitCodeOf(summary: PushSummary): ExitCode {
  if (summary.stopped && summary.stopped.kind !== 'aborted') return ExitCode.Failure;
  if (summary.stopped || summary.counts.quarantined > 0 || summary.counts.failed > 0) return ExitCode.Partial;
  return ExitCode.Success;
}

/** Runs a push with everything resolved; shared by `push` and `quarantine replay`. */
export async function executePush(
  ctx: CliContext,
  opts: KeyOptions &
    LogFileOptions &
    ControlOptions & {
      json?: boolean;
      dryRun?: boolean;
      results?: string;
      concurrency?: string;
      requestTimeout?: string;
      quarantineRetention?: string;
    },
  operation: Operation,
  rows: Parameters<typeof runPush>[0]['rows'],
  extra: {
    mapping: Mapping;
    keyColumn?: string;
    onExisting: OnExisting;
    inputLabel: string;
    /** Identifies the input in quarantine keys. @default inputLabel */
    inputKey?: string;
    purpose: string;
    /** Name of the command in the run log. @default 'push' */
    command?: string;
    /** Sees every record's result (e.g. replay closing the entries it applied). */
    onResult?: (result: RecordResult) => void;
    /** Keys a replay sends again on the person's word (`PushOptions.resendInFlight`). */
    resendInFlight?: readonly string[];
    /** Refuses the account the push would write to before anything is sent (a replay's entries' own). */
    checkAccount?: (account: string) => Promise<void>;
  },
): Promise<PushSummary> {
  const out = ctx.output(Boolean(opts.json));
  const concurrency = Number(opts.concurrency ?? 4);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new UsageError('--concurrency must be a whole number ≥ 1');
  const timeoutMs = opts.requestTimeout === undefined ? undefined : Number(opts.requestTimeout);
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0))
    throw new UsageError('--request-timeout must be a whole number of milliseconds > 0');
  const retentionDays = opts.quarantineRetention === undefined ? undefined : Number(opts.quarantineRetention);
  if (retentionDays !== undefined && !(Number.isFinite(retentionDays) && retentionDays >= 0))
    throw new UsageError('--quarantine-retention must be a number of days ≥ 0');
  // Dry-run bodies are written as they come, never collected: the input may be larger than memory.
  // Under --json they are the first member of the one JSON document on stdout, closed when the run ends.
  const stdout = out.io.stdout;
  const streamJson = Boolean(opts.json && opts.dryRun);
  let bodies = 0;
  let documentOpen = false;
  const log = openRunLog(ctx, extra.command ?? 'push', opts);
  log.logger.info(`${extra.command ?? 'push'} started`, {
    operation: operation.name,
    input: extra.inputLabel,
    ...defined({ credential: opts.credential }),
    ...(opts.dryRun ? { dryRun: true } : {}),
  });
  const summary = await logged(log, async () => {
    // `--credential` reads the vault of the same store as the ledger: `--control` names it as
    // ASHPIPE_CONTROL_URL would.
    const url = controlUrl(opts.control, ctx.env);
    const keyCtx = url === undefined ? ctx : { ...ctx, env: { ...ctx.env, [CONTROL_URL_ENV]: url } };
    const access = await resolveAshbyAccess(keyCtx, opts, extra.purpose);
    const client = new AshbyClient({
      apiKey: access.apiKey,
      baseUrl: access.baseUrl,
      onEvent: log.onClientEvent,
      ...defined({ timeoutMs }),
    });
    const control = await openCliControl(ctx, opts);
    // The ledger is the account's: the credential's (a rotated key keeps it), else the key's fingerprint.
    const account = await pushAccount(control, access)
      .then(async (a) => {
        await extra.checkAccount?.(a);
        return a;
      })
      .catch(async (error: unknown) => {
        await control.close();
        throw error;
      });
    const abort = new AbortController();
    const progress = createPushProgress(out.io.stderr);
    // The first Ctrl-C stops at the next record; a second ends the process, terminal given back first.
    const onSigint = () => {
      if (abort.signal.aborted) {
        progress.stop();
        process.exit(ExitCode.Interrupted);
      }
      abort.abort();
    };
    process.on('SIGINT', onSigint);
    if (streamJson) {
      stdout.write('{\n  "wouldSend": [');
      documentOpen = true;
    }
    try {
      return await runPush({
        client,
        control,
        account,
        operation,
        rows,
        mapping: extra.mapping,
        onExisting: extra.onExisting,
        dryRun: Boolean(opts.dryRun),
        concurrency,
        inputLabel: extra.inputLabel,
        ...defined({ inputKey: extra.inputKey, resendInFlight: extra.resendInFlight }),
        signal: abort.signal,
        ...defined({
          keyColumn: extra.keyColumn,
          resultsFile: opts.results,
          quarantineRetentionDays: retentionDays,
        }),
        onRead: () => progress.read(),
        onResult: (r) => {
          progress.done(r);
          extra.onResult?.(r);
          if (r.wouldSend) {
            const body = safeStringify({ row: r.row, ...r.wouldSend });
            if (streamJson) stdout.write(`${bodies === 0 ? '' : ','}\n    ${body}`);
            else if (!opts.json) stdout.write(`${body}\n`);
            bodies += 1;
          }
          if (r.status === 'quarantined' || r.status === 'failed')
            log.logger.warn(`record ${r.status}`, {
              operation: operation.name,
              row: r.row,
              ...defined({ quarantineId: r.quarantineId }),
              ...(r.error ? { error: r.error } : {}),
            });
          if (r.status === 'quarantined' && !opts.json)
            out.info(
              `row ${r.row}: ${opts.dryRun ? 'would be quarantined' : 'quarantined'} — ${r.error?.code}: ${r.error?.message}`,
            );
        },
      });
    } catch (error) {
      if (documentOpen) {
        // The document stays valid JSON; the error itself goes to stderr.
        stdout.write(
          `${bodies === 0 ? '' : '\n  '}],\n  "error": ${safeStringify((error as Error).message ?? String(error))}\n}\n`,
        );
        documentOpen = false;
      }
      throw error;
    } finally {
      process.removeListener('SIGINT', onSigint);
      progress.stop();
      await control.close();
    }
  });
  log.logger[exitCodeOf(summary) === ExitCode.Success ? 'info' : 'warn'](
    `${extra.command ?? 'push'} finished`,
    {
      operation: summary.operation,
      pushRunId: summary.runId,
      total: summary.total,
      counts: summary.counts,
      ...(summary.stopped ? { stopped: summary.stopped } : {}),
    },
  );
  if (documentOpen) {
    // The summary's own members follow the streamed bodies in the same object.
    stdout.write(`${bodies === 0 ? '' : '\n  '}],\n${safeStringify(summary, 2).slice(2)}\n`);
  } else if (summary.stopped?.kind !== 'aborted' || opts.json) {
    // After Ctrl-C a person reads one line (below); a script still gets its JSON.
    out.result(summary, () => formatPushSummary(summary));
  }
  if (summary.stopped?.kind === 'aborted') {
    const applied = summary.counts.created + summary.counts.updated;
    out.info(
      `interrupted: ${count(applied, 'record')} applied, ${summary.counts.pending} pending; run the same command to resume`,
    );
    ctx.setExitCode(ExitCode.Interrupted);
    return summary;
  }
  if (summary.stopped) {
    out.info(`stopped: ${summary.stopped.message}`);
    out.info('records not yet applied stay pending; rerun the same command to continue');
  }
  ctx.setExitCode(exitCodeOf(summary));
  if (summary.stopped) throw new ExitError(ExitCode.Failure, '');
  return summary;
}

/** What `push --help` says about `--map`, with examples. */
export const MAP_HELP = `
Columns and fields:
  A column named like a field of the operation (see \`ashpipe operations\`) fills that field; dotted
  names fill nested fields (location.city). A CSV header that cannot map (a required field without a
  column, a column the operation does not know) is refused before anything is sent (exit 2).

--map FILE, a JSON object:
  columns     input column -> field ("E-mail": "email"), null to drop a column, or
              {"to": "tagIds", "split": ";"} to rename and split a list
  constants   field -> value set on every record ("sourceId": "…")
  split       field -> separator, for list columns that keep their name
  ignoreUnknown  true to drop columns the operation does not know instead of refusing them

Examples:
  fullName,email -> candidate.create:
    {"columns": {"fullName": "name"}}
  a spreadsheet export with extra columns:
    {"columns": {"Full name": "name", "E-mail": "email", "Notes": null}, "constants": {"sourceId": "…"}}
  ashpipe push --endpoint candidate.create --input people.csv --map people.map.json --dry-run
`;

/** `ashpipe push`: writes records into Ashby, each exactly once. */
export function pushCommand(ctx: CliContext): Command {
  const cmd = new Command('push').description(
    'Write records (CSV, JSONL, JSON or a SQL query) into Ashby, each exactly once; safe to interrupt and rerun',
  );
  addKeyOptions(cmd);
  addControlOption(cmd);
  addLogFileOption(cmd);
  addLogFormatOption(cmd);
  return cmd
    .requiredOption(
      '--endpoint <name>',
      'operation (see `ashpipe operations`) or any write endpoint (manual mode)',
    )
    .option(
      '--manual',
      'send each record as the raw body of --endpoint, even when an operation template exists',
    )
    .option('--input <file>', 'records: .csv, .jsonl or .json (an array)')
    .addOption(
      new Option('--format <format>', 'input format when the extension does not tell').choices([
        'csv',
        'jsonl',
        'json',
      ]),
    )
    .option('--from <source>', 'read records from a database: sqlite:PATH or postgres://…')
    .option('--query <sql>', 'the SELECT that yields the records (with --from)')
    .option('--map <file>', 'mapping: rename and drop columns, constants, list separators (JSON)')
    .option(
      '--key <column>',
      'column whose value identifies a record across runs (default: a hash of the record)',
    )
    .addOption(
      new Option('--on-existing <policy>', 'candidate.create when the email exists: skip, update or create')
        .choices(['skip', 'update', 'create'])
        .default('skip'),
    )
    .option('--dry-run', 'validate and look up, print the bodies that would be sent; write nothing')
    .option('--results <file>', 'write one JSON line per input record (row, status, Ashby id, error)')
    .option('--concurrency <n>', 'records handled at once (requests still share the key’s limiter)', '4')
    .option(
      '--request-timeout <ms>',
      'time allowed for one request; a write that times out is reconciled, never resent blindly (default 30000)',
    )
    .option(
      '--quarantine-retention <days>',
      'days a quarantined record keeps its raw input; older inputs are cleared when a run starts (default 30)',
    )
    .option('--json', 'print the summary as JSON on stdout')
    .addHelpText('after', MAP_HELP)
    .action(async (opts: PushCliOptions) => {
      const operation = resolveOperation(opts.endpoint, Boolean(opts.manual));
      const source = inputSource(opts);
      if (source.kind === 'file') {
        // Refused before anything starts (a device, a pipe, binary data): a usage error, exit 2.
        try {
          await (await openInputFile(source.file)).close();
        } catch (error) {
          if (error instanceof InputFileError) throw new UsageError(`--input: ${error.message}`);
          throw error;
        }
      }
      let mapping = IDENTITY_MAPPING;
      if (opts.map !== undefined) {
        try {
          mapping = loadMapping(opts.map);
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
      }
      if (source.kind === 'file' && (source.format ?? formatOf(source.file)) === 'csv') {
        const header = readCsvHeader(source.file);
        const forbidden = header?.findIndex((c) => FORBIDDEN_NAMES.has(c)) ?? -1;
        if (forbidden >= 0)
          throw new UsageError(
            `--input ${source.file}: column ${forbidden + 1} of the header is named "${header?.[forbidden]}", which cannot be a field name; rename it`,
          );
        const problem = header && checkHeader(header, operation, mapping, opts.key);
        if (problem)
          throw new UsageError(describeHeaderProblem(`--input ${source.file}`, operation.name, problem));
      }
      await executePush(ctx, opts, operation, readInput(source), {
        mapping,
        onExisting: opts.onExisting,
        inputLabel: inputLabelOf(source),
        inputKey:
          source.kind === 'file'
            ? `file:${path.resolve(source.file)}`
            : `sql:${inputLabelOf(source)}\n${source.query}`,
        purpose: `push ${operation.name}`,
        ...defined({ keyColumn: opts.key }),
      });
    });
}
