import { readFileSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { Control } from '../../control/open.js';
import { accountLabels, accountNamed } from '../../push/account.js';
import {
  getQuarantine,
  listQuarantine,
  type QuarantineEntry,
  quarantineAccounts,
  setQuarantineStatus,
} from '../../push/ledger.js';
import { loadMapping } from '../../push/mapping.js';
import { planReplay, ReplayAccountError, replayEntries, vouchedNotice } from '../../push/replay.js';
import { safeStringify } from '../../util/redact.js';
import type { CliContext } from '../context.js';
import { addControlOption, type ControlOptions, withCliControl } from '../control-option.js';
import { UsageError } from '../exit-codes.js';
import { addKeyOptions, type KeyOptions } from '../key-options.js';
import { table } from '../output.js';
import { addLogFileOption, type LogFileOptions } from '../run-log.js';
import { executePush } from './push.js';

/** A replay to the wrong account is the caller's mistake: a usage error, with the message as it is. */
function usageOf(error: unknown): never {
  if (error instanceof ReplayAccountError) throw new UsageError(error.message);
  throw error;
}

function asUsage<T>(f: () => T): T {
  try {
    return f();
  } catch (error) {
    return usageOf(error);
  }
}

function parseId(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`not a quarantine id: ${value}`);
  return n;
}

/** Corrected records from an edited `quarantine export` file: entry id → fixed raw record. */
function readFixed(file: string): Map<number, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const out = new Map<number, unknown>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new UsageError(`${file}:${i + 1} is not JSON`);
    }
    const entry = parsed as { id?: unknown; raw?: unknown } | null;
    if (entry === null || typeof entry !== 'object' || typeof entry.id !== 'number' || !('raw' in entry))
      throw new UsageError(
        `${file}:${i + 1} needs the "id" and "raw" of a quarantine entry (write it with \`quarantine export\`)`,
      );
    out.set(entry.id, entry.raw);
  });
  if (out.size === 0) throw new UsageError(`${file} holds no entries`);
  return out;
}

/** The reason of an entry in one line: its field first unless the message already names it. */
function reasonOf(e: QuarantineEntry): string {
  const message = e.errorMessage.replace(/\s+/g, ' ');
  return e.fieldPath && !message.startsWith(e.fieldPath) ? `${e.fieldPath}: ${message}` : message;
}

/** An entry with its account as a person reads it (a credential's name, never a key). */
type LabelledEntry = QuarantineEntry & { accountName: string };

/** The stored account `--account NAME` names (a credential's name, a key's fingerprint, `shared`). */
async function accountOption(control: Control, name: string | undefined): Promise<{ account?: string }> {
  if (name === undefined) return {};
  const found = await accountNamed(control, await quarantineAccounts(control.db), name);
  if ('error' in found) throw new UsageError(found.error);
  return { account: found.account };
}

async function labelled(control: Control, entries: QuarantineEntry[]): Promise<LabelledEntry[]> {
  const labels = await accountLabels(
    control,
    entries.map((e) => e.account),
  );
  return entries.map((e) => ({ ...e, accountName: labels.get(e.account) ?? e.account }));
}

/**
 * `quarantine list`: fits 100 columns, the reason cut to what is left (`show` has it whole); `wide` adds
 * when, the error code and who closed the entry, and never cuts.
 */
function listTable(entries: readonly LabelledEntry[], wide = false): string {
  if (wide)
    return table(
      ['id', 'status', 'at', 'account', 'operation', 'row', 'code', 'closed by', 'reason'],
      entries.map((e) => [
        e.id,
        e.status,
        e.at,
        e.accountName,
        e.operation,
        e.rowNumber,
        e.errorCode,
        e.closedBy,
        reasonOf(e),
      ]),
    );
  const rows = entries.map((e) => [
    String(e.id),
    e.status,
    e.accountName,
    e.operation,
    String(e.rowNumber ?? ''),
  ]);
  const headers = ['id', 'status', 'account', 'operation', 'row'];
  const used = headers
    .map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)) + 2)
    .reduce((a, b) => a + b, 0);
  const room = Math.max(20, 100 - used);
  const cut = (text: string) => (text.length > room ? `${text.slice(0, room - 1)}…` : text);
  return table(
    [...headers, 'reason'],
    entries.map((e, i) => [...(rows[i] ?? []), cut(reasonOf(e))]),
  );
}

/** `ashpipe quarantine list|show|export|replay`: records a push could not apply. */
export function quarantineCommand(ctx: CliContext): Command {
  const cmd = new Command('quarantine').description(
    'Inspect, export and replay records a push could not apply',
  );
  const statusOption = () =>
    new Option('--status <status>', 'which entries')
      .choices(['open', 'replayed', 'resolved', 'dismissed', 'all'])
      .default('open');

  const sub = (name: string) => addControlOption(cmd.command(name));

  sub('list')
    .description('List quarantined records')
    .addOption(statusOption())
    .option('--operation <name>', 'only this operation')
    .option('--run <id>', 'only this run')
    .option(
      '--account <name>',
      "only this Ashby account's: a credential's name, a key's fingerprint, or shared",
    )
    .option('--wide', 'add when, the error code and who closed each entry, and the whole reason')
    .option('--json', 'print as JSON on stdout')
    .action(
      async (
        opts: ControlOptions & {
          status: 'open';
          operation?: string;
          run?: string;
          account?: string;
          wide?: boolean;
          json?: boolean;
        },
      ) => {
        const out = ctx.output(Boolean(opts.json));
        const entries = await withCliControl(ctx, opts, async (control) =>
          labelled(
            control,
            await listQuarantine(control.db, {
              status: opts.status,
              ...(opts.operation ? { operation: opts.operation } : {}),
              ...(opts.run ? { runId: opts.run } : {}),
              ...(await accountOption(control, opts.account)),
            }),
          ),
        );
        out.result(entries, () =>
          entries.length === 0 ? 'no quarantined records' : listTable(entries, opts.wide),
        );
      },
    );

  sub('show')
    .description('Show one quarantined record with its error and raw input')
    .argument('<id>')
    .option('--json', 'print as JSON on stdout')
    .action(async (id: string, opts: ControlOptions & { json?: boolean }) => {
      const out = ctx.output(Boolean(opts.json));
      const entry = await withCliControl(ctx, opts, (control) => getQuarantine(control.db, parseId(id)));
      if (!entry) throw new UsageError(`no quarantine entry ${id}`);
      out.result(entry, () => safeStringify(entry, 2));
    });

  for (const [action, status, what] of [
    ['resolve', 'resolved', 'Mark an open entry resolved: its record was fixed some other way'],
    ['dismiss', 'dismissed', 'Dismiss an open entry: its record is not to be pushed'],
  ] as const) {
    sub(action)
      .description(what)
      .argument('<id>')
      .action(async (id: string, opts: ControlOptions) => {
        const n = parseId(id);
        await withCliControl(ctx, opts, (control) =>
          // Read, check and close in one transaction: two people closing one entry, one of them is told.
          control.transaction(async (trx) => {
            const entry = await getQuarantine(trx, n);
            if (!entry) throw new UsageError(`no quarantine entry ${id}`);
            if (entry.status !== 'open')
              throw new UsageError(`quarantine entry ${id} is already ${entry.status}`);
            await setQuarantineStatus(trx, n, status, `ashpipe quarantine ${action}`);
          }),
        );
        ctx.output(false).info(`quarantine entry ${id} ${status}`);
      });
  }

  sub('export')
    .description('Write quarantined records as JSONL (raw record plus error), to fix and push again')
    .requiredOption('--out <file>', 'JSONL file to write')
    .addOption(statusOption())
    .option('--operation <name>', 'only this operation')
    .option(
      '--account <name>',
      "only this Ashby account's: a credential's name, a key's fingerprint, or shared",
    )
    .option('--records-only', 'write only the raw records, ready for `push --input`')
    .action(
      async (
        opts: ControlOptions & {
          out: string;
          status: 'open';
          operation?: string;
          account?: string;
          recordsOnly?: boolean;
        },
      ) => {
        const entries = await withCliControl(ctx, opts, async (control) =>
          listQuarantine(control.db, {
            status: opts.status,
            ...(opts.operation ? { operation: opts.operation } : {}),
            ...(await accountOption(control, opts.account)),
            limit: 1_000_000,
          }),
        );
        const lines = entries.map((e) => safeStringify(opts.recordsOnly ? e.raw : e));
        writeFileSync(opts.out, lines.length > 0 ? `${lines.join('\n')}\n` : '', { mode: 0o600 });
        ctx.output(false).info(`${entries.length} records written to ${opts.out}`);
      },
    );

  const replay = sub('replay')
    .description('Send quarantined records again through the same ledger (optionally re-mapped)')
    .argument('[ids...]', 'entries to replay (default: every open entry of --operation)')
    .option('--operation <name>', 'replay the open entries of this operation')
    .option(
      '--input <file>',
      'fixed records: a JSONL file written by `quarantine export` whose `raw` records were corrected',
    )
    .option('--map <file>', 'map the raw records with this mapping instead of the original one')
    .option('--dry-run', 'validate and look up only')
    .option('--json', 'print the summary as JSON on stdout');
  addKeyOptions(replay);
  addLogFileOption(replay);
  replay.action(
    async (
      ids: string[],
      opts: KeyOptions &
        LogFileOptions &
        ControlOptions & {
          operation?: string;
          input?: string;
          map?: string;
          dryRun?: boolean;
          json?: boolean;
        },
    ) => {
      const fixed = opts.input !== undefined ? readFixed(opts.input) : undefined;
      if (fixed && ids.length === 0) ids = [...fixed.keys()].map(String);
      const entries: QuarantineEntry[] = await withCliControl(ctx, opts, async (control) => {
        if (ids.length === 0)
          return listQuarantine(control.db, {
            status: 'open',
            ...(opts.operation ? { operation: opts.operation } : {}),
            limit: 1_000_000,
          });
        const found: QuarantineEntry[] = [];
        for (const id of ids) {
          const e = await getQuarantine(control.db, parseId(id));
          if (!e) throw new UsageError(`no quarantine entry ${id}`);
          found.push(e);
        }
        return found;
      });
      if (entries.length === 0) throw new UsageError('nothing to replay');
      const operations = new Set(entries.map((e) => e.operation));
      if (operations.size > 1)
        throw new UsageError(
          `entries belong to several operations (${[...operations].join(', ')}); pass --operation`,
        );
      const plan = asUsage(() =>
        planReplay(entries, {
          ...(fixed ? { fixed } : {}),
          ...(opts.map !== undefined ? { mapping: loadMapping(opts.map) } : {}),
        }),
      );
      await withCliControl(ctx, opts, async (control) => {
        const { outcomeUnknown } = await replayEntries(plan, {
          control,
          dryRun: Boolean(opts.dryRun),
          closedBy: 'ashpipe quarantine replay',
          send: ({ operation, rows, checkAccount, ...push }) =>
            executePush(ctx, opts, operation, rows, {
              ...push,
              checkAccount: (account) => checkAccount(account).catch(usageOf),
              purpose: `quarantine replay ${operation.name}`,
              command: 'quarantine replay',
            }),
        });
        const out = ctx.output(Boolean(opts.json));
        if (outcomeUnknown.vouched.length > 0)
          out.info(`notice: ${vouchedNotice(plan.operation.name, outcomeUnknown.vouched)}`);
        if (outcomeUnknown.reconciled.length > 0 && !opts.dryRun)
          out.info(
            `${outcomeUnknown.reconciled.length} ${outcomeUnknown.reconciled.length === 1 ? 'entry' : 'entries'} with an unknown outcome looked up in Ashby before sending`,
          );
      });
    },
  );
  return cmd;
}
